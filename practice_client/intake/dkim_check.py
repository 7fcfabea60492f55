"""The ``dkim`` check: is this e-mail really from the platform?

dkimpy verifies the cryptography; the policy is ours, because dkimpy alone
accepts what a phishing mail needs (NOTES.md): a signature by *any* domain, a
body length limit (``l=``) that lets text be appended, ``h=`` without From (so a
signed mail can get a new sender), rsa-sha1 and short RSA keys. Rules:

- every DKIM-Signature is tried; the check passes on the first that verifies
  *and* meets all rules below; each one that fails is remembered for the detail;
- ``d=`` must equal the configured platform domain (case-insensitive), and the
  From domain must be that domain or a subdomain of it (relaxed alignment with a
  fixed organisational domain: the platform may send from ``mail.<domain>``, a
  foreign domain may never sign for it);
- ``h=`` must cover From, Subject, Date and Message-ID;
- no ``l=``; only rsa-sha256 (key >= 2048 bits) and ed25519-sha256;
- ``t=`` must not lie in the future and ``x=`` must not have passed, judged
  against the ``now`` the caller passes (tests use fixed times);
- a message with more than one From, Subject, Date or Message-ID is refused
  before any signature is looked at (which header would a mail program show?).

The work is bounded before any of it starts, because anyone can mail the practice's
inbox: a message over the size limit is not parsed at all; it is parsed once, however
many signatures it carries; a message with more than :data:`MAX_SIGNATURE_HEADERS`
DKIM-Signature headers is refused without a single DNS lookup; and at most
:data:`MAX_VERIFICATIONS` signatures by the platform domain are verified (one DNS
lookup and one body hash each). A refusal for any of these reasons is final, so the
message is recorded as rejected once instead of being checked again on every poll.

DNS TXT lookups go through dnspython, to the system resolver or to the
configured ``dns_server`` (HOST:PORT).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import getaddresses

import dkim
import dns.exception
import dns.resolver

from practice_client.core.models import Check, CheckStatus
from practice_client.core.store import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

DnsFunc = Callable[..., bytes | None]

REQUIRED_SIGNED = ("from", "subject", "date", "message-id")
SINGLETON_HEADERS = (b"from", b"subject", b"date", b"message-id")
ALLOWED_ALGORITHMS = (b"rsa-sha256", b"ed25519-sha256")
MIN_RSA_BITS = 2048
CLOCK_SKEW_SECONDS = 300
DNS_TIMEOUT_SECONDS = 5.0
MAX_SIGNATURE_HEADERS = 10  # the platform signs once or twice; forwarders may add one each
MAX_VERIFICATIONS = 3  # signatures by the platform domain verified at most (DNS + body hash each)


class DnsUnavailable(Exception):
    """The DNS server did not answer: a temporary problem, not a verdict on the message."""


@dataclass(frozen=True)
class DkimOutcome:
    check: Check
    domain: str | None  # d= of the signature that passed
    temporary: bool  # True when only DNS trouble prevented a verdict


def dns_resolver(dns_server: str = "", timeout: float = DNS_TIMEOUT_SECONDS) -> DnsFunc:
    """A dkimpy ``dnsfunc`` over dnspython: the system resolver, or HOST:PORT when given."""
    limit = timeout
    if dns_server:
        host, _, port = dns_server.rpartition(":")
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host.strip("[]")]
        resolver.port = int(port)
    else:
        resolver = dns.resolver.Resolver()

    def lookup(name: bytes, timeout: float | None = None) -> bytes | None:
        """dkimpy passes its own timeout; the configured one is the upper bound."""
        lifetime = limit if timeout is None else min(limit, float(timeout))
        try:
            answer = resolver.resolve(name.decode("ascii"), "TXT", lifetime=lifetime, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, UnicodeDecodeError, dns.name.LabelTooLong):
            return None
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsUnavailable(type(exc).__name__) from None
        except dns.exception.DNSException:
            return None
        for record in answer:
            return b"".join(record.strings)
        return None

    return lookup


def dns_gave_up(hours: int) -> Check:
    """The final word on a message whose DKIM key could not be looked up for ``hours``:
    unverifiable is rejected - but staff learn why and what to do."""
    return Check(
        "dkim", CheckStatus.FAIL,
        f"Der DNS-Server hat {hours} Stunden lang nicht geantwortet – die E-Mail-Signatur konnte "
        "nicht geprüft werden. Bitte DNS prüfen (IT) und die Anfrage erneut senden lassen.",
        f"The DNS server did not answer for {hours} hours - the e-mail signature could not be "
        "checked. Check DNS (IT) and have the request sent again.",
    )


def _fail(de: str, en: str, temporary: bool = False) -> DkimOutcome:
    return DkimOutcome(Check("dkim", CheckStatus.FAIL, de, en), None, temporary)


def _from_domain(headers: list[tuple[bytes, bytes]]) -> str | None:
    values = [v for k, v in headers if k.lower() == b"from"]
    if len(values) != 1:
        return None
    try:
        text = values[0].decode("ascii")
    except UnicodeDecodeError:
        return None
    addresses = [a for _, a in getaddresses([" ".join(text.split())]) if a]
    if len(addresses) != 1 or addresses[0].count("@") != 1:
        return None
    domain = addresses[0].rsplit("@", 1)[1].strip().lower().rstrip(".")
    return domain or None


def _aligned(from_domain: str, platform_domain: str) -> bool:
    return from_domain == platform_domain or from_domain.endswith("." + platform_domain)


def _policy_problem(fields: dict[bytes, bytes], platform_domain: str, now: float) -> tuple[str, str] | None:
    """Why a cryptographically valid signature is still not acceptable, or None."""
    domain = fields.get(b"d", b"").decode("ascii", "replace").lower().rstrip(".")
    if domain != platform_domain:
        return (
            "Die E-Mail ist nicht von der Plattform signiert, sondern von einer fremden Domain – "
            "mögliche Phishing-Mail.",
            "The e-mail is signed by a foreign domain, not by the platform - possible phishing.",
        )
    if fields.get(b"a") not in ALLOWED_ALGORITHMS:
        return (
            "Die E-Mail-Signatur verwendet ein veraltetes, unsicheres Verfahren.",
            "The e-mail signature uses an outdated, insecure algorithm.",
        )
    if b"l" in fields:
        return (
            "Die E-Mail-Signatur deckt nur einen Teil des Inhalts ab (l=) – es könnte Text angehängt sein.",
            "The e-mail signature covers only part of the content (l=) - text may have been appended.",
        )
    signed = {h.strip().lower() for h in re.split(r"\s*:\s*", fields.get(b"h", b"").decode("ascii", "replace"))}
    if not all(h in signed for h in REQUIRED_SIGNED):
        return (
            "Absender, Betreff, Datum oder Nachrichten-ID der E-Mail sind nicht signiert – "
            "der Absender könnte gefälscht sein.",
            "Sender, subject, date or message id of the e-mail are not signed - the sender may be forged.",
        )
    stamp = fields.get(b"t", b"")
    if stamp.isdigit() and int(stamp) > now + CLOCK_SKEW_SECONDS:
        return (
            "Die E-Mail-Signatur ist in der Zukunft datiert.",
            "The e-mail signature is dated in the future.",
        )
    expiry = fields.get(b"x", b"")
    if expiry.isdigit() and int(expiry) < now:
        return ("Die E-Mail-Signatur ist abgelaufen.", "The e-mail signature has expired.")
    return None


def check_dkim(raw: bytes, platform_domain: str, dnsfunc: DnsFunc, now: float) -> DkimOutcome:
    """Pass only on a signature by the platform domain that meets every rule of this module."""
    platform_domain = platform_domain.strip().lower().rstrip(".")
    if not platform_domain:
        return _fail(
            "Die Plattform-Domain ist nicht eingerichtet – E-Mails können nicht geprüft werden.",
            "The platform domain is not configured - e-mails cannot be checked.",
        )
    if len(raw) > MAX_MESSAGE_BYTES:
        return _fail(
            "Die E-Mail ist zu groß für eine Anfrage – sie wurde nicht geprüft.",
            "The e-mail is too large for a request - it was not checked.",
        )
    try:
        verifier = dkim.DKIM(raw, minkey=1024, timeout=int(DNS_TIMEOUT_SECONDS))
        headers = list(verifier.headers)
    except Exception:  # noqa: BLE001 - dkimpy's parser on hostile input
        return _fail("Die E-Mail-Kopfzeilen sind beschädigt.", "The e-mail headers are damaged.")
    for name in SINGLETON_HEADERS:
        if sum(1 for k, _ in headers if k.lower() == name) > 1:
            return _fail(
                "Die E-Mail enthält Absender, Betreff, Datum oder Nachrichten-ID doppelt – "
                "typisch für eine gefälschte E-Mail.",
                "The e-mail contains sender, subject, date or message id twice - typical of a forged e-mail.",
            )
    from_domain = _from_domain(headers)
    if from_domain is None:
        return _fail(
            "Der Absender der E-Mail fehlt oder ist ungültig.",
            "The e-mail's sender is missing or invalid.",
        )
    if not _aligned(from_domain, platform_domain):
        return _fail(
            "Der Absender der E-Mail ist nicht die Plattform – mögliche Phishing-Mail.",
            "The e-mail's sender is not the platform - possible phishing.",
        )
    count = sum(1 for k, _ in headers if k.lower() == b"dkim-signature")
    if count == 0:
        return _fail(
            "Die E-Mail ist nicht signiert – mögliche Phishing-Mail.",
            "The e-mail is not signed - possible phishing.",
        )
    if count > MAX_SIGNATURE_HEADERS:
        return _fail(
            f"Die E-Mail trägt {count} Signaturen – ungewöhnlich viele, sie wird nicht geprüft "
            "(mögliche Störung der Anfragen).",
            f"The e-mail carries {count} signatures - unusually many; it is not checked "
            "(possibly an attempt to stall intake).",
        )
    problems: list[tuple[str, str]] = []
    dns_down = False
    verified = 0
    for idx in range(count):
        prep = _prepare(verifier, idx)
        fields = dict(verifier.signature_fields or {})
        problem = _policy_problem(fields, platform_domain, now) if fields else None
        if problem is not None or prep is None:  # refused on its tags alone: no DNS, no hashing
            problems.append(problem or ("Die E-Mail-Signatur ist beschädigt.", "The e-mail signature is damaged."))
            continue
        if verified == MAX_VERIFICATIONS:
            problems.insert(0, (
                f"Mehr als {MAX_VERIFICATIONS} Signaturen der Plattform-Domain – die übrigen werden "
                "nicht geprüft (mögliche Störung der Anfragen).",
                f"More than {MAX_VERIFICATIONS} signatures of the platform domain - the rest are not "
                "checked (possibly an attempt to stall intake).",
            ))
            dns_down = False  # the bound is exhausted: a final verdict, not "try again later"
            break
        verified += 1
        outcome = _verify(verifier, prep, idx, dnsfunc)
        if outcome is None:
            return DkimOutcome(
                Check(
                    "dkim", CheckStatus.PASS,
                    "Die E-Mail ist von der Plattform signiert und unverändert.",
                    "The e-mail is signed by the platform and unchanged.",
                ),
                platform_domain, False,
            )
        if isinstance(outcome, str):
            dns_down = True
        else:
            problems.append(outcome)
    if dns_down:  # a signature by the platform itself could not be checked: later, not never
        return _fail(
            "Der DNS-Server ist nicht erreichbar – die E-Mail-Signatur kann gerade nicht geprüft werden.",
            "The DNS server is not reachable - the e-mail signature cannot be checked right now.",
            temporary=True,
        )
    de, en = problems[0]
    return _fail(de, en)


Prepared = tuple[dict[bytes, bytes], list[bytes], list[tuple[bytes, bytes]]]


def _prepare(verifier: dkim.DKIM, idx: int) -> Prepared | None:
    """Signature ``idx`` of the message ``verifier`` parsed once: its tags (left in
    ``verifier.signature_fields`` even when they are invalid), or None when damaged."""
    verifier.signature_fields = None
    try:
        prep = verifier.verify_headerprep(idx)
    except Exception as exc:  # noqa: BLE001 - dkimpy raises many kinds on hostile input
        log.debug("dkim signature %d: %s", idx, type(exc).__name__)
        return None
    return prep or None


def _verify(verifier: dkim.DKIM, prep: Prepared, idx: int, dnsfunc: DnsFunc) -> tuple[str, str] | str | None:
    """None when signature ``idx`` (its tags acceptable) verifies; ``"dns"`` on DNS trouble;
    else (de, en). The policy was checked on the tags *before* this lookup, so a foreign
    signature can never turn a message into "try again later" by pointing at a DNS server
    that does not answer."""
    sig, include_headers, sigheaders = prep
    verifier.keysize, verifier.ktag = 0, None  # from an earlier signature of this message
    try:
        valid = bool(verifier.verify_sig(sig, include_headers, sigheaders[idx], dnsfunc))
    except DnsUnavailable:
        return "dns"
    except Exception as exc:  # noqa: BLE001
        log.debug("dkim signature %d: %s", idx, type(exc).__name__)
        valid = False
    keysize = getattr(verifier, "keysize", 0) or 0
    if getattr(verifier, "ktag", None) == b"rsa" and 0 < keysize < MIN_RSA_BITS:
        return (
            "Der Signaturschlüssel der E-Mail ist zu kurz und damit unsicher.",
            "The e-mail's signing key is too short and therefore insecure.",
        )
    if not valid:
        return (
            "Die E-Mail wurde nach dem Signieren verändert oder die Signatur ist ungültig – "
            "mögliche Phishing-Mail.",
            "The e-mail was changed after signing or its signature is invalid - possible phishing.",
        )
    return None
