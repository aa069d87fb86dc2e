import Foundation
import Transport

/// Frame types (from the registry, ``FrameType``) and encoding of the admin protocol (``AdminRequest`` → ``AdminResponse``).
public enum AdminProtocol {
    /// An ``AdminRequest`` (admin → server); also the first frame that tells an admin link apart.
    public static let requestFrame: UInt8 = FrameType.adminRequest.rawValue
    /// An ``AdminResponse`` (server → admin).
    public static let responseFrame: UInt8 = FrameType.adminResponse.rawValue

    public static func encode(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
