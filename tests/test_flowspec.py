"""`format_flowspec` writes what `parse_flowspec` reads (the lab's `route get` lines)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, strategies as st

from wgexplain.kernel.flowspec import format_flowspec, parse_flowspec
from wgexplain.lab.kernel import route_get_line
from wgexplain.model import Flow

ports = st.none() | st.integers(0, 65535)
flows = st.builds(
    Flow,
    dst=st.ip_addresses(),
    src=st.none() | st.ip_addresses(),
    iif=st.none() | st.sampled_from(["eth0", "wlp0s20f3"]),
    oif=st.none() | st.sampled_from(["wg-mullvad", "lo"]),
    mark=st.integers(0, 2**32 - 1),
    uid=st.none() | st.integers(0, 2**32 - 2),
    ipproto=st.none() | st.sampled_from([6, 17, 1, 47]),
    sport=ports, dport=ports,
    tos=st.sampled_from([0, 0x10, 0x28]),
)


@given(flows)
def test_format_then_parse_gives_the_flow_back(flow: Flow) -> None:
    args = parse_flowspec(format_flowspec(flow).split())
    def num(key: str) -> int | None:  # parse_flowspec keeps the words; route_get() reads them
        return None if args.get(key) is None else int(args[key], 0)

    back = Flow(dst=ipaddress.ip_address(args["dst"]),
                src=None if args.get("src") is None else ipaddress.ip_address(args["src"]),
                iif=args.get("iif"), oif=args.get("oif"), mark=num("mark") or 0,
                uid=num("uid"), ipproto=num("ipproto"), sport=num("sport"),
                dport=num("dport"), tos=num("tos") or 0)
    assert back == flow


def test_lab_line_and_diagram_label_share_the_syntax() -> None:
    flow = Flow(dst=ipaddress.ip_address("1.1.1.1"), mark=0x6D6F6C65, ipproto=17, dport=53)
    assert route_get_line(flow) == "route get to 1.1.1.1 mark 0x6d6f6c65 ipproto 17 dport 53"
    assert format_flowspec(Flow(dst=ipaddress.ip_address("1.1.1.1")), mark_always=True) == \
        "to 1.1.1.1 mark 0x0"
