"""authentication: does a mail carry a trusted host's DKIM, DMARC or SPF pass for a domain?

Shared by the agent checks (agent_mail: an agent's own domain) and the customer check (the
`customer_authentication` rule: the domain of the From a mail claims). Pure: it reads the
`Authentication-Results` headers the parser kept and nothing else.

Only headers whose authserv-id is a trusted host count: anybody can write an
Authentication-Results header, and the trusted host (the desk's own MX) removes copies that
claim its name (RFC 8601, section 5). A pass counts only when it is for the domain asked
about (alignment): DKIM `header.d`, DMARC `header.from`, SPF the domain of `smtp.mailfrom`.
A signature of some other domain, or SPF for a bounce address elsewhere, proves nothing
about who wrote the From.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import authres

METHODS = ("dkim", "dmarc", "spf")
"""The methods a desk may accept; which property of each names the domain it vouches for."""
_ALIGNED = {
    "dkim": ("header", "d"),
    "dmarc": ("header", "from"),
    "spf": ("smtp", "mailfrom"),
}


@dataclass(frozen=True)
class Checked:
    """The answer for one domain: `passed` says which pass vouched for it (for the history),
    else `why` says what was found instead (for the quarantine's detail)."""

    passed: str | None
    why: str

    @property
    def ok(self) -> bool:
        return self.passed is not None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower()


def check(
    headers: Mapping[str, Sequence[str]],
    domain: str,
    trusted_hosts: Iterable[str],
    methods: Iterable[str],
) -> Checked:
    """Whether a trusted host recorded a pass of one of `methods` aligned with `domain`."""
    domain = domain.lower()
    trusted = {host.lower() for host in trusted_hosts}
    wanted = [m for m in methods if m in _ALIGNED]
    seen = []
    # a hostile mail may carry thousands: the trusted host's own are at the top
    for value in list(headers.get("authentication-results", ()))[:20]:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(value)
        except Exception:  # authres raises more than AuthResError on garbage
            seen.append("an unreadable header")
            continue
        host = str(header.authserv_id or "").lower()
        if host not in trusted:
            seen.append(f"one from untrusted {host or '(no host)'}")
            continue
        for result in header.results:
            method = str(result.method).lower()
            if method not in wanted or str(result.result).lower() != "pass":
                continue
            for prop in result.properties:
                if (prop.type, prop.name) == _ALIGNED[method] and (
                    domain_of(str(prop.value)) == domain
                ):
                    return Checked(f"{method}=pass for {domain} by {host}", "")
        seen.append(f"{host}'s without a {' or '.join(wanted)} pass for {domain}")
    found = "; ".join(seen) if seen else "no Authentication-Results header"
    return Checked(None, f"{found} (trusted: {', '.join(sorted(trusted))})")
