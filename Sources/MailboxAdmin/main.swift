print("mailbox-admin: not yet implemented")
