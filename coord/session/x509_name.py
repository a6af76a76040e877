"""Who the caller proved to be on the transport: the x509 identity of a
client that presented a certificate on a mutual-TLS port (either door's).

ZooKeeper's x509 id is the client certificate's subject as Java's
`X500Principal.getName()` spells it (RFC 2253), so an ACL written for
ZooKeeper names the same id here. gRPC's own `x509_subject` is OpenSSL's
RFC 2253 printing, which differs from Java's: it escapes each non-ASCII
UTF-8 byte (`\\C3\\BC` for `ü`, Java keeps the character), does not escape
`=` inside a value (Java does), and names attributes RFC 2253 has no
keyword for by OpenSSL's short names (`emailAddress=a@b`, `street=`), where
Java gives the dotted OID and the value's DER in hex
(`1.2.840.113549.1.9.1=#1603...`) and `STREET=`. So the subject is spelled
here from the certificate's DER, as Java does: RDNs last first, `+` inside
one, `,=+<>#;"\\` escaped with a backslash, and a leading or trailing
space. (One case is not followed: Java prints a BMPString value with a
`\\00` before each character; here it is decoded like the other strings.)
"""

from __future__ import annotations

from collections.abc import Iterator

from cryptography import x509

# RFC 2253's keywords, as Java prints them; other attributes go by OID.
KEYWORDS = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "0.9.2342.19200300.100.1.1": "UID",
    "0.9.2342.19200300.100.1.25": "DC",
}
# DER string types by tag, and how their bytes spell characters.
STRING_CODECS = {
    12: "utf-8",  # UTF8String
    19: "ascii",  # PrintableString
    20: "latin-1",  # TeletexString
    22: "ascii",  # IA5String
    26: "ascii",  # VisibleString
    28: "utf-32-be",  # UniversalString
    30: "utf-16-be",  # BMPString
}
SPECIAL = frozenset(',=+<>#;"\\')


def certificate_subject(certificate: x509.Certificate) -> str | None:
    """The certificate's subject as ZooKeeper's x509 id; None if empty."""
    return rfc2253(certificate.subject) or None


def rfc2253(name: x509.Name) -> str:
    """`name` as Java's `X500Principal.getName()` spells it."""
    _, sequence, _ = next(_tlvs(name.public_bytes()))
    rdns = ["+".join(_ava(ava) for _, ava, _ in _tlvs(rdn)) for _, rdn, _ in _tlvs(sequence)]
    return ",".join(reversed(rdns))


def _ava(ava: bytes) -> str:
    """One `type=value` (an AttributeTypeAndValue's DER content)."""
    (_, oid_der, _), (tag, value, whole) = _tlvs(ava)
    oid = _dotted(oid_der)
    keyword = KEYWORDS.get(oid)
    if keyword is None or tag not in STRING_CODECS:
        return f"{keyword or oid}=#{whole.hex()}"
    return f"{keyword}={_escape(value.decode(STRING_CODECS[tag], errors='replace'))}"


def _escape(text: str) -> str:
    last = len(text) - 1
    return "".join(
        f"\\{ch}" if ch in SPECIAL or (ch == " " and i in (0, last)) else ch
        for i, ch in enumerate(text)
    )


def _tlvs(data: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """The DER elements one after another in `data`: (tag, content, whole)."""
    i = 0
    while i < len(data):
        tag, length, j = data[i], data[i + 1], i + 2
        if length & 0x80:
            size = length & 0x7F
            length, j = int.from_bytes(data[j : j + size], "big"), j + size
        yield tag, data[j : j + length], data[i : j + length]
        i = j + length


def _dotted(der: bytes) -> str:
    """An OBJECT IDENTIFIER's content as dotted decimal."""
    arcs, value = [], 0
    for byte in der:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    top = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (top, arcs[0] - 40 * top, *arcs[1:]))
