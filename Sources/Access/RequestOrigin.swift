/// Where the request being handled comes from, set by the server's edge for each request.
public enum RequestOrigin {
    /// The client's network address (the peer, or the address a trusted proxy forwarded for);
    /// nil when unknown. Sign-in delays per client are keyed on it.
    @TaskLocal public static var clientAddress: String?
}
