"""Who the caller proved to be on the transport: the x509 identity of a
client that presented a certificate on a mutual-TLS port.

gRPC gives the certificate's subject as OpenSSL prints it in RFC 2253 form
(`X509_NAME_print_ex` with `XN_FLAG_RFC2253`): the last RDN first, `,`
between RDNs, `+` inside one, and `,+"\\<>;` (and a leading `#` or space,
a trailing space) escaped with a backslash. ZooKeeper's x509 id is Java's
`X500Principal.getName()`, also RFC 2253: for the usual attributes (CN, O,
OU, C, L, ST, DC, UID, STREET) with ASCII values the two strings are the
same, e.g. `CN=alice,O=Example`. They differ in two ways:

- non-ASCII characters: OpenSSL escapes each UTF-8 byte (`CN=J\\C3\\BCrgen`),
  Java keeps the character (`CN=Jürgen`); `x509_subject` decodes such runs
  of escaped bytes, so it gives Java's form;
- attributes RFC 2253 has no keyword for: OpenSSL uses its own short name
  (`emailAddress=a@example.org`), Java the dotted OID and the value's DER
  in hex (`1.2.840.113549.1.9.1=#16...`); this is left as gRPC gives it.
"""

from __future__ import annotations

import grpc

_HEX = frozenset("0123456789abcdefABCDEF")


def x509_subject(context: grpc.ServicerContext | grpc.aio.ServicerContext) -> str | None:
    """The subject of the certificate the caller presented over TLS, in RFC
    2253 form; None without TLS or without a client certificate."""
    auth = context.auth_context()
    if auth.get("transport_security_type") != [b"ssl"]:
        return None
    subjects = auth.get("x509_subject") or [b""]
    return _unescape_utf8(subjects[0].decode("ascii", errors="replace")) or None


def _unescape_utf8(text: str) -> str:
    """Each run of hex-escaped bytes as the characters its UTF-8 spells when
    they are not ASCII (ASCII escapes, and bytes that are not UTF-8, stay)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        run = bytearray()
        j = i
        while text[j : j + 1] == "\\" and set(text[j + 1 : j + 3]) <= _HEX and j + 3 <= len(text):
            run.append(int(text[j + 1 : j + 3], 16))
            j += 3
        if run and max(run) >= 0x80:
            try:
                out.append(run.decode("utf-8"))
                i = j
                continue
            except UnicodeDecodeError:
                pass
        step = 2 if text[i] == "\\" else 1  # an escaped character is kept whole
        out.append(text[i : i + step])
        i += step
    return "".join(out)
