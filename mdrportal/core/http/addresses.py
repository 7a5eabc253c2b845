"""Which hosts the portal may call: names resolved through one seam, only global addresses accepted, and
the networks the operator names in CONNECTOR_ALLOWED_NETWORKS.

A connector URL comes from a tenant or a partner. Checked when it is saved and again when it is called
(a name can be re-pointed in between), so that a token or a signed request never reaches this network,
the cloud metadata service or anything else that is not on the public internet, unless the operator allowed
that network explicitly (an on-premises EDR manager on a private network).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

LOCAL = "This address is on a private or local network, which the portal does not call."
# Names that only mean something inside a network, whatever they resolve to today.
_LOCAL_NAMES = {"localhost", "metadata.google.internal"}
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".localdomain")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Ranges Python's is_global takes for global that still lead into some network's own: IPv4-compatible
# addresses (::a.b.c.d, deprecated, some stacks still route them to the IPv4 address), site-local (deprecated,
# still routed inside some networks) and the local-use NAT64 prefix (RFC 8215: a network's own translator).
_NOT_GLOBAL = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("fec0::/10"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
)


class AddressRefused(Exception):
    """The host is, or resolves to, an address the portal does not call; retrying cannot help."""


class NotResolved(Exception):
    """The host name did not resolve (now): may work later."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# The seam: tests put a fake here so that no test needs DNS.
resolve: Resolver = system_resolver


def name_problem(host: str) -> str | None:
    """Why a host name is refused before any lookup, or None."""
    host = host.lower().rstrip(".")
    if _literal(host) is not None:
        return None
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        return LOCAL
    if "." not in host:
        # A single label resolves through the machine's search domains: an internal host.
        return LOCAL
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why an address is refused, or None: only global unicast addresses are called."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_problem(embedded)
    if not address.is_global or address.is_multicast:
        return LOCAL
    if isinstance(address, ipaddress.IPv6Address) and any(address in network for network in _NOT_GLOBAL):
        return LOCAL
    return None


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks the operator allows besides public addresses (CONNECTOR_ALLOWED_NETWORKS)."""
    return tuple(ipaddress.ip_network(network) for network in settings.CONNECTOR_ALLOWED_NETWORKS)


def in_allowed_network(address: IPAddress) -> bool:
    networks = allowed_networks()
    candidates = [address, _embedded_ipv4(address)]
    return any(a is not None and a.version == n.version and a in n for a in candidates for n in networks)


def checked_addresses(host: str, port: int, *, allow_local: bool, timeout: float) -> list[str]:
    """Resolve host and return its addresses, all of them acceptable; the caller connects to one of them.

    A name that only means something inside a network is accepted when every address it has is in an
    allowed network. Raises AddressRefused, or NotResolved (also when the lookup takes longer than timeout).
    """
    host = host.lower().rstrip(".")
    name_refused = None if allow_local else name_problem(host)
    if name_refused and not allowed_networks():
        raise AddressRefused(name_refused)
    literal = _literal(host)
    addresses = [str(literal)] if literal is not None else _resolve_within(host, port, timeout)
    if not addresses:
        raise NotResolved(f"{host} has no address")
    if not allow_local:
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if in_allowed_network(address):
                continue
            # Any refused address refuses the name: which one a connection would use is not ours to choose.
            problem = name_refused or address_problem(address)
            if problem:
                raise AddressRefused(problem)
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _resolve_within(host: str, port: int, timeout: float) -> list[str]:
    # getaddrinfo cannot be interrupted: it runs in a thread that is left behind if it outlives the deadline.
    addresses: list[str] = []
    errors: list[OSError | UnicodeError] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            addresses.extend(resolve(host, port))
        except (OSError, UnicodeError) as error:
            errors.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(max(timeout, 0.0)):
        raise NotResolved(f"{host} did not resolve in time")
    if errors:
        raise NotResolved(f"{host} did not resolve ({type(errors[0]).__name__})")
    return addresses
