// The message model (mail, client records) moved down to `MessageModel`, which the client links
// without this server-side store; code that reads mailboxes sees it through `Mailbox` as before.
@_exported import MessageModel
