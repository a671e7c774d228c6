"""``wgexplain redact``: nothing public survives, relations are kept, formats are kept."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wgexplain.redact import (KEPT, MIN_PREFIX, POOLS, Redactor, is_public, redact_bundle,
                              redact_text)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "mullvad"

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address



def _public4(x: int) -> V4:
    """Any 32-bit number as a public IPv4 address (non-public ones folded into 11.0.0.0/8-99/8)."""
    a = V4(x)
    return a if is_public(a) else V4(0x0B000000 + x % (0x64000000 - 0x0B000000))


def _public6(x: int) -> V6:
    """A number as a public IPv6 address in 2000::/3 (non-public ones folded into 2a00::/8)."""
    a = V6((0x2000 << 112) + x)
    return a if is_public(a) else V6((0x2A00 << 112) + x % (1 << 120))


public4 = st.integers(0, 2**32 - 1).map(_public4)
public6 = st.integers(0, (1 << 125) - 1).map(_public6)
kept_addr = st.sampled_from(KEPT).flatmap(
    lambda net: st.integers(int(net.network_address), int(net.broadcast_address)).map(
        type(net.network_address)))
keys = st.binary(min_size=32, max_size=32).map(lambda b: __import__("base64").b64encode(b).decode())
macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b)).filter(
    lambda m: m not in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"))


def common_prefix(a: V4 | V6, b: V4 | V6) -> int:
    bits = 32 if a.version == 4 else 128
    x = int(a) ^ int(b)
    return bits - x.bit_length()


def _net(addr: V4 | V6, plen: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(f"{addr}/{plen}", strict=False)


# --------------------------------------------------------------------------- the mapping

def _in_pool(addr: V4 | V6) -> bool:
    return any(addr in pool for pool in POOLS[addr.version])


@settings(deadline=None)
@given(st.one_of(st.tuples(public4, public4), st.tuples(public6, public6)), st.binary(max_size=8))
def test_stand_ins_belong_to_nobody_and_keep_prefixes(pair: tuple[V4, V4], key: bytes) -> None:
    a, b = pair
    r = Redactor(key)
    fa, fb = r.ip(a), r.ip(b)
    assert _in_pool(fa) and _in_pool(fb)  # documentation / benchmarking ranges only
    assert not any(fa in ipaddress.ip_network(n) for n in ("192.0.2.0/24",))
    block = 24 if a.version == 4 else 64
    # inside one block (the /24 or /64 around an address) every prefix is kept, across
    # blocks none of the block's
    if common_prefix(a, b) >= block:
        assert common_prefix(fa, fb) == common_prefix(a, b)
    else:
        assert common_prefix(fa, fb) < block
    assert (fa == fb) == (a == b)


@settings(deadline=None)
@given(st.one_of(public4.map(lambda a: (a, 32)), public6.map(lambda a: (a, 128))),
       st.integers(0, 200), st.binary(max_size=8))
def test_learned_networks_keep_every_prefix_inside(addr_bits: tuple[V4, int], seed: int,
                                                   key: bytes) -> None:
    """A public network of the dump (/15../24 or /20../64) is one block: addresses in it
    keep every common prefix with each other."""
    addr, bits = addr_bits
    plen = MIN_PREFIX[addr.version] + seed % ((24 if bits == 32 else 64) - MIN_PREFIX[addr.version])
    net = _net(addr, plen)
    if not is_public(net.network_address) or not is_public(net.broadcast_address):
        return
    r = Redactor(key)
    r.learn_text(f"{net} dev eth0\n")
    other = type(addr)(int(net.network_address) + (seed * 7919 + 1) % net.num_addresses)
    fa, fo = r.ip(addr), r.ip(other)
    assert common_prefix(fa, fo) == common_prefix(addr, other)
    assert fa in r.network(net) and r.network(net).prefixlen == plen


@settings(deadline=None)
@given(kept_addr, st.binary(max_size=8))
def test_kept_ranges_are_kept(addr: V4 | V6, key: bytes) -> None:
    r = Redactor(key)
    out = r.ip(addr)
    raw = addr.packed
    eui64 = addr.version == 6 and raw[11:13] == b"\xff\xfe" and not addr.is_multicast
    mapped = addr.version == 6 and (addr in ipaddress.ip_network("::ffff:0:0/96")
                                    or addr in ipaddress.ip_network("64:ff9b::/96"))
    if eui64:
        assert out.packed[:8] == raw[:8] and out.packed[11:13] == b"\xff\xfe"
    elif mapped:
        assert int(out) >> 32 == int(addr) >> 32
        low_in, low_out = V4(int(addr) & 0xFFFFFFFF), V4(int(out) & 0xFFFFFFFF)
        assert _in_pool(low_out) if is_public(low_in) else low_out == low_in
    else:
        assert out == addr


@settings(deadline=None)
@given(st.one_of(public4.map(lambda a: (a, 32)), public6.map(lambda a: (a, 128))),
       st.data())
def test_network_and_broadcast_host_parts_are_kept(addr_bits: tuple[V4, int], data: st.DataObject) -> None:
    addr, bits = addr_bits
    plen = data.draw(st.integers(MIN_PREFIX[addr.version], bits - 2), label="prefixlen")
    net = _net(addr, plen)
    if not is_public(net.network_address):
        return
    r = Redactor(b"k")
    r.learn_text(f"inet {addr}/{plen} scope global eth0\n")
    host = data.draw(st.integers(int(net.network_address), int(net.broadcast_address)).map(type(addr)))
    new_net = r.network(net)
    assert new_net.prefixlen == plen
    assert r.ip(net.network_address) == new_net.network_address
    assert r.ip(net.broadcast_address) == new_net.broadcast_address
    assert r.ip(host) in new_net


def test_same_key_same_stand_ins_other_key_other_ones() -> None:
    text = (SEED / "session-en.txt").read_text()
    assert redact_text(text, key="a") == redact_text(text, key="a")
    assert redact_text(text, key="a") != redact_text(text, key="b")
    assert redact_text(text) != redact_text(text)  # no key: a random one per run


# --------------------------------------------------------------------------- texts

def _addr_tokens(text: str) -> set[str]:
    """Every IPv4/IPv6 address in a text, normalised (``ipaddress`` string)."""
    out = set()
    for m in re.finditer(r"(?<![\w:.])[0-9A-Fa-f:.]+(?![\w:])", text):
        tok = m.group(0).rstrip(".")
        for cand in [tok, *tok.split(":")] if "." in tok else [tok]:
            try:
                out.add(str(ipaddress.ip_address(cand)))
            except ValueError:
                pass
    return out


@st.composite
def dumps(draw: st.DrawFn) -> tuple[str, set[str], set[str], set[str]]:
    """A bundle-ish text: ip addr / route / rule lines, wg dump lines; and its secrets."""
    pubs = draw(st.lists(st.one_of(public4, public6), min_size=1, max_size=8, unique=True))
    others = draw(st.lists(kept_addr, max_size=4))
    wg_keys = draw(st.lists(keys, min_size=1, max_size=3, unique=True))
    hw = draw(st.lists(macs, min_size=1, max_size=3, unique=True))
    lines = []
    for i, mac in enumerate(hw):
        lines.append(f"{i + 2}: eth{i}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP")
        lines.append(f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff")
    for a in pubs + others:
        bits = 32 if a.version == 4 else 128
        plen = draw(st.integers(0, bits))
        net = _net(a, plen)
        kind = draw(st.sampled_from(["addr", "route", "rule", "via", "nft"]))
        if kind == "addr":
            fam = "inet" if a.version == 4 else "inet6"
            lines.append(f"    {fam} {a}/{plen} scope global eth0")
        elif kind == "route":
            lines.append(f"{net} dev eth0 proto static metric 5")
        elif kind == "rule":
            lines.append(f"100:\tfrom {net} lookup 100")
        elif kind == "via":
            lines.append(f"default via {a} dev eth0 table 7")
        else:
            lines.append(f"        ip{'6' if a.version == 6 else ''} daddr {a} accept")
    lines.append(f"wg0\t{wg_keys[0]}\t{wg_keys[-1]}\t51820\t0x6d6f6c65")
    for k in wg_keys[1:]:
        endpoint = pubs[0]
        ep = f"[{endpoint}]" if endpoint.version == 6 else str(endpoint)
        lines.append(f"wg0\t{k}\t(none)\t{ep}:51820\t0.0.0.0/0,::/0\t0\t0\t0\toff")
    text = "\n".join(lines) + "\n"
    return text, {str(a) for a in pubs}, set(wg_keys), set(hw)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dumps(), st.binary(max_size=8))
def test_nothing_public_survives(dump: tuple[str, set[str], set[str], set[str]], key: bytes) -> None:
    text, pubs, wg_keys, hw = dump
    r = Redactor(key)
    r.learn_text(text)
    out = r.text(text)
    assert out.count("\n") == text.count("\n")
    # an address survives only as the network address of a public network too short to
    # name anybody (shorter than MIN_PREFIX: 11.0.0.0/8, 2000::/3), kept as written
    prefixes = [ipaddress.ip_network(m, strict=False)
                for m in re.findall(r"(?<![\w:.+/])([0-9A-Fa-f:.]+/\d+)(?![\w/])", text)]
    short = {str(n.network_address) for n in prefixes
             if n.prefixlen < MIN_PREFIX[n.version] or not all(
                 is_public(a) for a in (n.network_address, n.broadcast_address))}
    assert not (_addr_tokens(out) & pubs) - short
    assert not any(k in out for k in wg_keys)
    assert not any(m in out.lower() for m in hw)
    # consistent: each original maps to one stand-in everywhere (a second pass agrees)
    assert r.text(text) == out
    for orig, new in r.mapping.items():
        if orig in pubs:
            assert _in_pool(ipaddress.ip_address(new))


def test_seed_session_is_redacted_and_still_a_session() -> None:
    text = (SEED / "session-en.txt").read_text()
    out = redact_text(text, key="seed")
    assert "185.195.233.76" not in out and "f0:20:ff:a7:68:db" not in out
    assert out.count("\n") == text.count("\n")
    # kept: private, link-local, loopback, multicast, the prose and every command
    for keep in ("192.168.44.83/24", "10.64.0.1", "fe80::9f4e:c306:9e3d:8e8/64", "ff02::1:2",
                 "127.0.0.1/8", "255.255.255.255", "$ ip -c rule show", "# nft list ruleset",
                 "I want to understand how"):
        assert keep in out
    new_relay = re.search(r"ip saddr (\S+) udp sport 19955", out).group(1)  # type: ignore[union-attr]
    assert _in_pool(ipaddress.ip_address(new_relay))
    assert out.count(new_relay) == text.count("185.195.233.76") == 3
    ja = (SEED / "session-ja.txt").read_text()
    ja_out = redact_text(ja, key="seed")
    assert "185.195.233.76" not in ja_out and new_relay in ja_out  # same key, same stand-in
    assert "ワイヤガード" in ja_out


def test_prompts_and_host_names() -> None:
    text = ("alice@laptop-7:~$ hostname\nlaptop-7\n[alice@laptop-7 ~]$ sudo ip r\n"
            "root@laptop-7:/etc# ip rule\n0:\tfrom all lookup local\n"
            "bob@main:~$ ip route show table main\ndefault dev wg0 table main\n")
    out = redact_text(text, key="k")
    assert "laptop-7" not in out and "alice" not in out and "bob@main" not in out
    host = re.search(r"@(host-[0-9a-f]{8}):~\$ hostname", out).group(1)  # type: ignore[union-attr]
    assert out.splitlines()[1] == host
    assert re.search(rf"^\[user-[0-9a-f]{{6}}@{host} ~\]\$ sudo ip r$", out, re.M)
    assert f"root@{host}:/etc# ip rule" in out
    # 'main' is a host name too, but also a table: replaced in its prompt only
    assert "lookup local" in out and "ip route show table main" in out
    assert "default dev wg0 table main" in out


def test_json_stays_json_and_split_prefixes_keep_networks(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    rules = [{"priority": 100, "src": "185.195.0.0", "srclen": 16, "table": "100"},
             {"priority": 101, "src": "185.195.233.76", "table": "100"}]
    addrs = [{"ifindex": 2, "ifname": "eth0", "address": "f0:20:ff:a7:68:db",
              "addr_info": [{"family": "inet", "local": "185.195.233.76", "prefixlen": 24,
                             "broadcast": "185.195.233.255"}]}]
    (src / "ip-rule.json").write_text(json.dumps(rules, separators=(",", ":")) + "\n")
    (src / "ip-addr.json").write_text(json.dumps(addrs, separators=(",", ":")) + "\n")
    (src / "ip-route.txt").write_text("185.195.233.0/24 dev eth0 proto kernel scope link\n")
    # ip -j -p (pretty) and nft -j: other spacing, the same pairs
    pretty = [{"priority": 102, "src": "185.196.0.0", "srclen": 16, "table": "100"}]
    (src / "ip6-rule.json").write_text(json.dumps(pretty, indent=4) + "\n")
    nft = {"nftables": [{"rule": {"expr": [{"match": {"op": "==", "left": {"payload": {
        "protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "185.197.0.0",
                                                                  "len": 16}}}}]}}]}
    (src / "nft-ruleset.json").write_text(json.dumps(nft) + "\n")
    r = redact_bundle(src, tmp_path / "out", key="k")
    out_pretty = (tmp_path / "out" / "ip6-rule.json").read_text()
    assert out_pretty.count("\n") == (src / "ip6-rule.json").read_text().count("\n")
    p = json.loads(out_pretty)[0]
    assert ipaddress.ip_network(f"{p['src']}/16").prefixlen == 16 and p["src"] != "185.196.0.0"
    prefix = json.loads((tmp_path / "out" / "nft-ruleset.json").read_text())["nftables"][0][
        "rule"]["expr"][0]["match"]["right"]["prefix"]
    assert ipaddress.ip_network(f"{prefix['addr']}/16") and prefix["addr"] != "185.197.0.0"
    out_rules = json.loads((tmp_path / "out" / "ip-rule.json").read_text())
    out_addrs = json.loads((tmp_path / "out" / "ip-addr.json").read_text())
    net16 = ipaddress.ip_network(f"{out_rules[0]['src']}/16")  # strict: host bits still zero
    info = out_addrs[0]["addr_info"][0]
    iface = ipaddress.ip_interface(f"{info['local']}/24")
    assert ipaddress.ip_address(out_rules[1]["src"]) == iface.ip in net16
    assert str(iface.network.broadcast_address) == info["broadcast"]
    route = (tmp_path / "out" / "ip-route.txt").read_text().split()[0]
    assert ipaddress.ip_network(route) == iface.network
    assert out_addrs[0]["address"] != "f0:20:ff:a7:68:db"
    assert out_addrs[0]["address"].startswith("00:00:5e:00:53:")  # RFC 7042's, unicast
    assert r.counts["address"] >= 3 and r.counts["mac"] == 1


def test_seed_bundle_keeps_file_names_and_mapping(tmp_path: Path) -> None:
    r = redact_bundle(SEED / "bundle", tmp_path / "out", key="seed")
    names = sorted(p.name for p in (SEED / "bundle").iterdir())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == names
    nft = (tmp_path / "out" / "nft-ruleset.nft").read_text()
    assert "185.195.233.76" not in nft and r.mapping["185.195.233.76"] in nft
    session = redact_text((SEED / "session-en.txt").read_text(), key="seed")
    assert r.mapping["185.195.233.76"] in session  # the same key maps alike across runs


def test_cli_redact(tmp_path: Path) -> None:
    from wgexplain.cli_capture import redact_command

    runner = CliRunner()
    res = runner.invoke(redact_command, ["-", "--key", "k"],
                        input="ip saddr 185.195.233.76 accept\n")
    assert res.exit_code == 0
    assert res.stdout.splitlines()[0] == redact_text("ip saddr 185.195.233.76 accept\n",
                                                     key="k").rstrip("\n")
    assert "redacted 1 address(es)" in res.stderr
    out = tmp_path / "s.txt"
    res = runner.invoke(redact_command, [str(SEED / "session-en.txt"), "-o", str(out)])
    assert res.exit_code == 0 and "185.195.233.76" not in out.read_text()
    res = runner.invoke(redact_command, [str(SEED / "bundle")])
    assert res.exit_code == 2 and "-o OUT" in res.stderr
    res = runner.invoke(redact_command, [str(tmp_path / "missing.txt")])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "ip-rule.json").write_text('[{"priority": 1,}]\n')
    res = runner.invoke(redact_command, [str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "ip-rule.json:1: expected valid JSON" in res.stderr


def test_ranges_are_flagged() -> None:
    r = Redactor(b"k")
    text = "ip daddr 185.195.233.10-185.195.233.20 accept\nip daddr 10.0.0.1-10.0.0.9 accept\n"
    r.learn_text(text)
    r.text(text)
    assert len(r.warnings) == 1 and "not modelled" in r.warnings[0]
    assert "185.195.233.10-185.195.233.20" in r.warnings[0]



# --------------------------------------------------------------------------- routing is unchanged

def _same_decision(orig_host, red_host, r: Redactor, dst, *, src=None, mark=0) -> None:  # type: ignore[no-untyped-def]
    from wgexplain.kernel.route import route_get

    a = route_get(orig_host, dst, src=src, mark=mark)
    b = route_get(red_host, r.ip(dst), src=None if src is None else r.ip(src), mark=mark)
    what = f"{dst} from {src} mark {mark:#x}"
    assert (b.type, b.dev, b.table, b.rule, b.error) == (a.type, a.dev, a.table, a.rule, a.error), what
    assert b.gateway == (None if a.gateway is None else r.ip(a.gateway)), what
    assert b.src == (None if a.src is None else r.ip(a.src)), what


@st.composite
def sessions(draw: st.DrawFn) -> tuple[str, list[tuple[object, object, int]]]:
    """A pasted session (ip addr / ip route show table all / ip rule, both families) with
    public addresses, and flows to try on it."""
    a4 = draw(public4)
    n4 = draw(st.integers(MIN_PREFIX[4], 30))
    net4 = _net(a4, n4)
    if a4 in (net4.network_address, net4.broadcast_address):
        a4 = V4(int(net4.network_address) + 1)
    gw4 = V4(int(net4.broadcast_address) - 1) if a4 != V4(int(net4.broadcast_address) - 1) \
        else V4(int(net4.network_address) + 1)
    a6 = draw(public6)
    n6 = draw(st.integers(MIN_PREFIX[6], 120))
    net6 = _net(a6, n6)
    gw6 = V6(int(net6.network_address) + 1)
    wg4 = draw(public4)
    mac = draw(macs)
    nets = draw(st.lists(st.one_of(public4, public6).flatmap(
        lambda a: st.integers(MIN_PREFIX[a.version], a.max_prefixlen).map(lambda n: _net(a, n))),
        max_size=6))
    lines = ["alice@laptop:~$ ip addr",
             "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000",
             "    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00",
             "    inet 127.0.0.1/8 scope host lo",
             "       valid_lft forever preferred_lft forever",
             "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP group default qlen 1000",
             f"    link/ether {mac} brd ff:ff:ff:ff:ff:ff",
             f"    inet {a4}/{n4} brd {net4.broadcast_address} scope global eth0",
             "       valid_lft forever preferred_lft forever",
             f"    inet6 {a6}/{n6} scope global nodad",
             "       valid_lft forever preferred_lft forever",
             "3: wg0: <POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN group default qlen 1000",
             "    link/none ",
             f"    inet {wg4}/32 scope global wg0",
             "       valid_lft forever preferred_lft forever",
             "alice@laptop:~$ ip route show table all",
             f"default via {gw4} dev eth0 proto dhcp src {a4} metric 600 ",
             f"{net4} dev eth0 proto kernel scope link src {a4} metric 600 ",
             "default dev wg0 table 51820 proto static "]
    for i, net in enumerate(nets):
        if net.version == 4:
            kind = ["", "blackhole ", "unreachable ", "throw "][i % 4]
            tail = f"via {gw4} dev eth0" if not kind else ""
            lines.append(f"{kind}{net} {tail} table {100 + i % 2}".replace("  ", " "))
    lines += [f"{net6} dev eth0 proto kernel metric 256 pref medium",
              f"default via {gw6} dev eth0 metric 1024 pref medium",
              "default dev wg0 table 51820 metric 1024 pref medium"]
    for i, net in enumerate(nets):
        if net.version == 6:
            lines.append(f"{net} dev wg0 table {100 + i % 2} metric 1024 pref medium")
    rules4 = ["0:\tfrom all lookup local"]
    rules6 = ["0:\tfrom all lookup local"]
    for i, net in enumerate(nets):
        sel = ["from", "from all to"][i % 2]
        (rules4 if net.version == 4 else rules6).append(f"{10 + i}:\t{sel} {net} lookup {100 + i % 2}")
    for rules in (rules4, rules6):
        rules += ["32764:\tfrom all lookup main suppress_prefixlength 0",
                  "32765:\tnot from all fwmark 0xca6c lookup 51820",
                  "32766:\tfrom all lookup main", "32767:\tfrom all lookup default"]
    rules6.remove("32767:\tfrom all lookup default")
    lines += ["alice@laptop:~$ ip -4 rule", *rules4, "alice@laptop:~$ ip -6 rule", *rules6]
    text = "\n".join(lines) + "\n"
    # flows: the interfaces' networks (network, broadcast, gateway, random hosts), the
    # generated networks, random public and kept addresses
    dsts: list[object] = [a4, gw4, net4.network_address, net4.broadcast_address, wg4, a6, gw6,
                          net6.network_address]
    dsts += [draw(st.integers(int(n.network_address), int(n.broadcast_address)).map(
        type(n.network_address))) for n in [net4, net6, *nets]]
    # kept addresses other than the stand-in pools (where a stand-in may now be)
    dsts += draw(st.lists(st.one_of(public4, public6, kept_addr.filter(lambda a: not _in_pool(a))),
                          min_size=3, max_size=8))
    flows = []
    for d in dsts:
        src = draw(st.sampled_from([None, a4 if d.version == 4 else a6]))  # type: ignore[attr-defined]
        flows.append((d, src, draw(st.sampled_from([0, 0xCA6C]))))
    return text, flows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions(), st.binary(max_size=8))
def test_redacted_session_routes_the_same(session: tuple[str, list[tuple[object, object, int]]],
                                          key: bytes) -> None:
    from wgexplain.sources import load_text

    text, flows = session
    r = Redactor(key)
    r.learn_text(text)
    red = r.text(text)
    orig_host, red_host = load_text(text, "orig.txt"), load_text(red, "red.txt")
    assert len(red_host.routes) == len(orig_host.routes)
    for dst, src, mark in flows:
        _same_decision(orig_host, red_host, r, dst, src=src, mark=mark)


SEED_FLOWS = ["1.1.1.1", "185.195.233.76", "185.195.233.77", "8.8.8.8", "10.64.0.1",
              "10.147.23.252", "192.168.44.1", "192.168.44.83", "192.168.44.255", "192.168.44.0",
              "127.0.0.1", "224.0.0.251", "255.255.255.255", "203.0.113.76"]


@pytest.mark.parametrize("source", ["session-en.txt", "session-ja.txt", "bundle"])
def test_seed_routes_the_same_after_redaction(source: str, tmp_path: Path) -> None:
    from wgexplain.sources import load

    r = Redactor(b"seed")
    path = SEED / source
    if path.is_dir():
        redact_bundle(path, tmp_path / "red", redactor=r)
        red_path = tmp_path / "red"
    else:
        text = path.read_text()
        r.learn_text(text)
        red_path = tmp_path / source
        red_path.write_text(r.text(text))
    orig_host, red_host = load(str(path)), load(str(red_path))
    assert r.mapping["185.195.233.76"] != "185.195.233.76"
    for dst in SEED_FLOWS:
        for mark in (0, 0x6D6F6C65):
            for src in (None, ipaddress.ip_address("192.168.44.83")):
                _same_decision(orig_host, red_host, r, ipaddress.ip_address(dst), src=src,
                               mark=mark)


# --------------------------------------------------------------------------- what people paste

E = "\x1b"
#: ``ip -c addr``, ``wg`` on a terminal, and ``ip -c route`` as they reach a forum: colour codes
#: around addresses, apart from their ``/24``, and inside ``wg``'s allowed ips
COLOURED = (
    f"{E}[01;32malice@laptop-7{E}[00m:{E}[01;34m~{E}[00m$ ip -c addr\n"
    f"1: {E}[36mlo: {E}[0m<LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n"
    f"    link/loopback {E}[33m00:00:00:00:00:00{E}[0m brd {E}[33m00:00:00:00:00:00{E}[0m\n"
    f"    inet {E}[35m127.0.0.1{E}[0m/8 scope host lo\n"
    f"2: {E}[36meth0: {E}[0m<BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state "
    f"{E}[32mUP {E}[0mgroup default qlen 1000\n"
    f"    link/ether {E}[33mf0:20:ff:a7:68:db{E}[0m brd {E}[33mff:ff:ff:ff:ff:ff{E}[0m\n"
    f"    inet {E}[35m185.195.233.76{E}[0m/24 brd {E}[35m185.195.233.255 {E}[0mscope global eth0\n"
    f"    inet6 {E}[34m2a01:4f8:c0c:1234:f220:ffff:fea7:68db{E}[0m/64 scope global dynamic\n"
    f"    inet6 {E}[34mfe80::f220:ffff:fea7:68db{E}[0m/64 scope link\n"
    f"3: {E}[36mwg0: {E}[0m<POINTOPOINT,NOARP,UP,LOWER_UP> mtu 1420 qdisc noqueue state UNKNOWN\n"
    f"    link/none \n"
    f"    inet {E}[35m10.64.0.2{E}[0m/32 scope global wg0\n"
    f"{E}[01;32malice@laptop-7{E}[00m:{E}[01;34m~{E}[00m$ ip -c route show table all\n"
    f"{E}[1mdefault {E}[0mvia {E}[35m185.195.233.1 {E}[0mdev {E}[36meth0 {E}[0mproto dhcp\n"
    f"{E}[35m185.195.233.0/24 {E}[0mdev {E}[36meth0 {E}[0mproto kernel scope link src "
    f"{E}[35m185.195.233.76 {E}[0m\n"
    f"{E}[34m2a01:4f8:c0c:1234::/64 {E}[0mdev {E}[36meth0 {E}[0mproto ra metric 100\n"
    f"default via {E}[34mfe80::1 {E}[0mdev {E}[36meth0 {E}[0mproto ra metric 100\n"
    f"default dev {E}[36mwg0 {E}[0mtable 51820 proto static\n"
    f"{E}[01;32malice@laptop-7{E}[00m:{E}[01;34m~{E}[00m$ ip -c rule\n"
    "0:\tfrom all lookup local\n"
    "32764:\tfrom all lookup main suppress_prefixlength 0\n"
    "32765:\tnot from all fwmark 0xca6c lookup 51820\n"
    "32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n"
    f"{E}[01;32malice@laptop-7{E}[00m:{E}[01;34m~{E}[00m$ sudo wg\n"
    f"{E}[32m{E}[1minterface{E}[0m: {E}[32mwg0{E}[0m\n"
    f"  {E}[1mpublic key{E}[0m: SJ8rOsdpiAK0FVB8iVaVbqYSoHQBWPb0nt35LVUSwnQ=\n"
    f"  {E}[1mprivate key{E}[0m: (hidden)\n"
    f"  {E}[1mlistening port{E}[0m: 51820\n"
    f"  {E}[1mfwmark{E}[0m: 0xca6c\n\n"
    f"{E}[33m{E}[1mpeer{E}[0m: {E}[33mAQ+1OBUHZQeHDvHxg3a6l3hxcQpe2BvzJUCc6w8XdhQ={E}[0m\n"
    f"  {E}[1mpreshared key{E}[0m: (hidden)\n"
    f"  {E}[1mendpoint{E}[0m: 185.195.233.76:51820\n"
    f"  {E}[1mallowed ips{E}[0m: 0.0.0.0{E}[36m/{E}[0m0, 185.195.0.0{E}[36m/{E}[0m16, "
    f"2a01:4f8::{E}[36m/{E}[0m32\n")
SECRETS = ("185.195.233.76", "185.195.233.1", "185.195.0.0", "2a01:4f8:c0c:1234:",
           "2a01:4f8::", "f0:20:ff:a7:68:db", "fe80::f220:ffff:fea7:68db",
           "SJ8rOsdpiAK0FVB8iVaVbqYSoHQBWPb0nt35LVUSwnQ=",
           "AQ+1OBUHZQeHDvHxg3a6l3hxcQpe2BvzJUCc6w8XdhQ=", "alice", "laptop-7")
_SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize("colour", [True, False], ids=["colour", "plain"])
def test_coloured_paste_leaks_nothing_keeps_its_colour_and_routes_the_same(colour: bool) -> None:
    from wgexplain.sources import load_text

    text = COLOURED if colour else _SGR.sub("", COLOURED)
    r = Redactor(b"k")
    r.learn_text(text)
    out = r.text(text)
    plain = _SGR.sub("", out)
    for secret in SECRETS:
        assert secret not in plain, secret
    assert out.count(E) == text.count(E)  # every colour code is put back
    assert out.count("\n") == text.count("\n")
    # the stand-in prefix is still coloured apart from its /24, as ip -c prints it
    relay = r.mapping["185.195.233.76"]
    if colour:
        assert f"inet {E}[35m{relay}{E}[0m/24 brd" in out
        assert f"0.0.0.0{E}[36m/{E}[0m0, " in out
    # the EUI-64 addresses follow the stand-in MAC, in the link-local and the global address
    mac = re.search(r"link/ether (?:\x1b\[33m)?([0-9a-f:]{17})", out).group(1)  # type: ignore[union-attr]
    assert mac.startswith("00:00:5e:00:53:")
    raw = bytes.fromhex(mac.replace(":", ""))
    iid = f"{raw[0] ^ 2:x}{raw[1]:02x}:{raw[2]:02x}ff:fe{raw[3]:02x}:{raw[4]:02x}{raw[5]:02x}"
    assert f"fe80::{iid}/64" in plain
    assert re.search(rf"2001:db8:[0-9a-f:]*:{iid}/64 scope global", plain)
    orig, red = load_text(text, "orig.txt"), load_text(out, "red.txt")
    for dst in ("1.1.1.1", "185.195.233.76", "185.195.233.200", "185.195.1.1", "10.64.0.9",
                "2a01:4f8:c0c:1234::9", "2606:4700::1111"):
        for mark in (0, 0xCA6C):
            _same_decision(orig, red, r, ipaddress.ip_address(dst), mark=mark)


def test_macs_in_every_notation_and_json() -> None:
    text = ("Windows: Physical Address . . . : F0-20-FF-A7-68-DB\n"
            "cisco: 0050.56c0.0001 dynamic Gi0/1\n"
            "    link/ether f020ffa768dc brd ffffffffffff\n"
            "eth0: flags=4163<UP>  mtu 1500\n        ether 3c:22:fb:12:34:56  txqueuelen 1000\n"
            '[{"ifname": "eth0", "address": "f0:20:ff:a7:68:dd", "broadcast": "ff:ff:ff:ff:ff:ff"}]\n'
            '[{"ifname":"eth1","address":"3c22fb123457"}]\n'
            "10.0.0.1 dev eth0 lladdr 3c:22:fb:12:34:58 REACHABLE\n")
    out = redact_text(text, key="k")
    low = out.lower()
    for secret in ("f0-20-ff-a7-68-db", "0050.56c0.0001", "f020ffa768dc", "3c:22:fb:12:34:56",
                   "f0:20:ff:a7:68:dd", "3c22fb123457", "3c:22:fb:12:34:58"):
        assert secret not in low, secret
    # the notation and case are kept, the stand-ins are RFC 7042's documentation MACs
    assert re.search(r"Physical Address \. \. \. : 00-00-5E-00-53-[0-9A-F]{2}\n", out)
    assert re.search(r"cisco: 0000\.5e00\.53[0-9a-f]{2} dynamic", out)
    assert re.search(r"link/ether 00005e0053[0-9a-f]{2} brd ffffffffffff", out)
    assert "ff:ff:ff:ff:ff:ff" in out
    json.loads(out.splitlines()[5])
    # one MAC, one stand-in, whatever the notation
    same = redact_text("a f0:20:ff:a7:68:db b F0-20-FF-A7-68-DB c f020.ffa7.68db\n", key="k")
    words = same.split()
    assert words[1] == words[3].lower().replace("-", ":") == ":".join(
        words[5].replace(".", "")[i:i + 2] for i in range(0, 12, 2))


def test_keys_wherever_wg_prints_them() -> None:
    priv, pub, psk, peer = ("yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=",
                            "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=",
                            "FpCyhws9cxwWoV4xELtfJvjJN+zQVRPISllRWgeopVE=",
                            "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=")
    text = (f"$ sudo wg show all dump\nwg0\t{priv}\t{pub}\t51820\toff\n"
            f"wg0\t{peer}\t{psk}\t203.0.113.5:51820\t10.0.0.2/32\t1700000000\t100\t200\t25\n"
            f"$ sudo wg showconf wg0\n[Interface]\nListenPort = 51820\nPrivateKey = {priv}\n\n"
            f"[Peer]\nPublicKey = {peer}\nPresharedKey = {psk}\nAllowedIPs = 10.0.0.2/32\n"
            f"$ sudo wg\ninterface: wg0\n  public key: {pub}\n  private key: (hidden)\n\n"
            f"{E}[33m{E}[1mpeer{E}[0m: {E}[33m{peer}{E}[0m\n  preshared key: (hidden)\n")
    r = Redactor(b"k")
    r.learn_text(text)
    out = r.text(text)
    for k in (priv, pub, psk, peer):
        assert k not in out
        assert out.count(r.mapping[k]) == text.count(k)  # the same stand-in everywhere
        assert len(base64.b64decode(r.mapping[k])) == 32
    assert "203.0.113.5:51820" in out  # a documentation address: kept


@pytest.mark.parametrize("line, names", [
    ("alice@laptop-7:~$ ip r", ("alice", "laptop-7")),
    ("[alice@laptop-7 ~]# ip r", ("alice", "laptop-7")),
    ("alice@laptop-7 ~ % ip r", ("alice", "laptop-7")),
    ("alice@laptop-7:~> ip r", ("alice", "laptop-7")),
    ("root@laptop-7:/home/alice# ip r", ("alice", "laptop-7")),
    ("laptop-7% ip r", ("laptop-7",)),
    ("laptop-7# sudo ip r", ("laptop-7",)),
    ("MacBook-of-Alice:~ alice$ ip r", ("alice", "MacBook-of-Alice")),
    ("PS C:\\Users\\alice> wg show", ("alice",)),
    ("C:\\Users\\alice\\Downloads>wg show", ("alice",)),
    ("`alice@laptop-7:~$ ip r` gives", ("alice", "laptop-7")),
    ("> alice@laptop-7:~$ ip r", ("alice", "laptop-7")),
    ("- alice@laptop-7:~$ ip r", ("alice", "laptop-7")),
    ("(venv) alice@laptop-7:~/src$ ip r", ("alice", "laptop-7")),
    (f"{E}[01;32malice@laptop-7{E}[00m:{E}[01;34m~{E}[00m$ ip r", ("alice", "laptop-7")),
])
def test_prompt_styles(line: str, names: tuple[str, ...]) -> None:
    text = f"{line}\ndefault via 192.168.1.1 dev eth0\nmy box `laptop-7` is alice's laptop-7\n"
    out = _SGR.sub("", redact_text(text, key="k"))
    for name in names:
        assert not re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", out), (name, out)
    assert "default via 192.168.1.1 dev eth0" in out


def test_stand_ins_avoid_the_pool_addresses_already_in_the_dump() -> None:
    # a dump that already uses most of a pool's /24s: no stand-in may land on one of them
    used = [f"198.18.{i}.0/24" for i in range(0, 256, 1)] + [f"198.19.{i}.0/24" for i in range(250)]
    text = "".join(f"{n} dev eth0\n" for n in used) + "".join(
        f"ip daddr 185.{i}.7.9 accept\n" for i in range(20))
    r = Redactor(b"k")
    r.learn_text(text)
    r.text(text)
    taken = {ipaddress.ip_network(n) for n in used}
    news = [ipaddress.ip_address(r.mapping[f"185.{i}.7.9"]) for i in range(20)]
    assert len(set(news)) == 20
    assert not any(a in n for a in news for n in taken)
    assert all(_in_pool(a) for a in news)


def test_ip_json_bundle_leaks_nothing_and_eui64_follows(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    addrs = [{"ifindex": 2, "ifname": "eth0", "address": "f0:20:ff:a7:68:db",
              "broadcast": "ff:ff:ff:ff:ff:ff",
              "addr_info": [{"family": "inet", "local": "185.195.233.76", "prefixlen": 24,
                             "broadcast": "185.195.233.255"},
                            {"family": "inet6", "local": "2a01:4f8:c0c:1234:f220:ffff:fea7:68db",
                             "prefixlen": 64},
                            {"family": "inet6", "local": "fe80::f220:ffff:fea7:68db",
                             "prefixlen": 64}]}]
    (src / "ip-addr.json").write_text(json.dumps(addrs, indent=2) + "\n")
    (src / "wg.txt").write_text(
        "wg0\tyAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\tHIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
        "\t51820\toff\n")
    r = redact_bundle(src, tmp_path / "out", key="k")
    text = (tmp_path / "out" / "ip-addr.json").read_text()
    out = json.loads(text)[0]
    for secret in ("f0:20:ff:a7:68:db", "185.195.233", "2a01:4f8", "fe80::f220:ffff:fea7:68db"):
        assert secret not in text
    mac = bytes.fromhex(out["address"].replace(":", ""))
    iid = bytes([mac[0] ^ 2]) + mac[1:3] + b"\xff\xfe" + mac[3:]
    infos = out["addr_info"]
    assert all(ipaddress.ip_address(i["local"]).packed[8:] == iid for i in infos[1:])
    assert ipaddress.ip_interface(f"{infos[0]['local']}/24").network.broadcast_address == \
        ipaddress.ip_address(infos[0]["broadcast"])
    assert "yAnz5TF+" not in (tmp_path / "out" / "wg.txt").read_text()
    assert r.counts["mac"] == 1 and r.counts["key"] == 2
