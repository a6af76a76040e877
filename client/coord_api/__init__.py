"""The API both sides share: the client wire (generated from
protos/coord/v1/client.proto), the path rules and the TLS file checks.
It imports neither the server (`coord`) nor the SDK (`coord_client`)."""
