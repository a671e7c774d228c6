"""The iproute2 readers in one place (``ip rule``, ``ip route``, ``ip addr``/``ip link``).

Each lives in its own module named after what it reads; this module only
gathers their public functions:

* :func:`parse_rules_text`, :func:`parse_rules_json` (``print_rule()``, ip/iprule.c);
* :func:`parse_routes_text`, :func:`parse_routes_json` (``print_route()``, ip/iproute.c);
* :func:`parse_addr_text`, :func:`parse_addr_json` (``print_linkinfo()``/
  ``print_addrinfo()``, ip/ipaddress.c).
"""

from __future__ import annotations

from wgexplain.sources.iproute_addr import parse_addr_json, parse_addr_text
from wgexplain.sources.iproute_route import parse_routes_json, parse_routes_text, route_key
from wgexplain.sources.iproute_rule import parse_rules_json, parse_rules_text, rule_key

__all__ = ["parse_addr_json", "parse_addr_text", "parse_routes_json", "parse_routes_text",
           "parse_rules_json", "parse_rules_text", "route_key", "rule_key"]
