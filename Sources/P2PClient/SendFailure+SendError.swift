import Delivery

extension SendFailure {
    /// What `send` throws for this failure; `ledgerError` is the ledger's own error, for
    /// ``SendFailure/notPersisted``.
    func error(ledgerError: (any Error)?) -> any Error {
        switch self {
        case .mailboxFull(let recipient): SendError.mailboxFull(recipient)
        case .unknownRecipient(let recipient): SendError.unknownRecipient(recipient)
        case .tooLarge(let size, let limit): SendError.messageTooLarge(size: size, limit: limit)
        case .quotaExceeded(let recipient, let limit): SendError.quotaExceeded(recipient, limit: limit)
        case .storageFull(let limit): SendError.storageFull(limit: limit)
        case .expired(let id): SendError.expired(id)
        case .stored(let id): SendError.stored(id)
        case .pending(let id): SendError.pending(id)
        case .notPersisted: ledgerError ?? SendError.clientStopped
        case .stopped: SendError.clientStopped
        }
    }
}
