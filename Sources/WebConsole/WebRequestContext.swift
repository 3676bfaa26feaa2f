import Hummingbird
import NIOCore

/// The request context of Patron's router: Hummingbird's core context plus the peer's address,
/// which sign-in delays per client are keyed on.
public struct WebRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
