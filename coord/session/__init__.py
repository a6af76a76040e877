"""A client session's protocol, whichever door carries it: the handshake,
credentials, in-order answering, watches re-armed, the outbox and its
limits. It knows no transport (no grpc): a door reads frames into it and
writes out what it has to send."""
