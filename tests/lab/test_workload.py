"""Lab workloads: names within the kernel's limits, the lease and ping parsers, and the
commands that plug a guest into a server's port."""

from __future__ import annotations

from dcn.lab.workload import (
    DHCP_SCRIPT,
    Workload,
    attach_argv,
    detach_argv,
    exec_argv,
    names,
    parse_lease,
    ping_command,
    received,
)

PORT = "6eae77aa-017f-4e9b-a6e5-d60bc6808153"


def workload() -> Workload:
    netns, veth = names(PORT)
    return Workload(
        server="0f1e2d3c-0000-4000-8000-000000000001",
        name="dcn-smoke-dcn0",
        node="dcn0-distributedcompute-0",
        port=PORT,
        mac="fa:16:3e:00:00:01",
        fixed_ip="198.18.64.10",
        netns=netns,
        veth=veth,
    )


def test_names_fit_the_kernel_and_differ_per_port() -> None:
    netns, veth = names(PORT)
    assert len(veth) <= 15 and veth.startswith("wl")
    assert netns.startswith("wl-")
    assert names("6eae77ab-017f-4e9b-a6e5-d60bc6808153") != (netns, veth)


def test_attach_passes_every_value_as_an_argument_never_in_the_script() -> None:
    w = workload()
    argv = attach_argv(w)
    assert argv[:2] == ["/bin/sh", "-c"]
    script = argv[2]
    for value in (w.port, w.mac, w.server, w.netns, w.veth):
        assert value not in script
    assert argv[4:9] == [w.netns, w.veth, w.mac, w.port, w.server]
    assert argv[9] == DHCP_SCRIPT
    # bound to the port as a VM's tap is, with TX offload off on both ends
    assert 'external_ids:iface-id="$port"' in script
    assert script.count("tx off") == 2
    assert "udhcpc" in script and "-n -q" in script


def test_detach_and_exec_name_the_namespace() -> None:
    w = workload()
    assert detach_argv(w)[-2:] == [w.netns, w.veth]
    assert exec_argv(w, ["ip", "addr"]) == ["ip", "netns", "exec", w.netns, "ip", "addr"]


def test_lease_parsing() -> None:
    lease = parse_lease("seconds=0.42\nip=198.18.64.10\nrouter=198.18.64.1\nroutes=0.0.0.0/0 1\n")
    assert (lease.address, lease.router, lease.seconds) == ("198.18.64.10", "198.18.64.1", 0.42)
    none = parse_lease("seconds=10.1\nip=\n")
    assert none.address is None and none.seconds == 10.1


def test_ping_summary() -> None:
    out = (
        "--- 198.18.64.1 ping statistics ---\n"
        "5 packets transmitted, 4 packets received, 20% packet loss\n"
    )
    assert received(out) == (5, 4)
    assert received("ping: sendto: Network unreachable\n") == (0, 0)
    assert ping_command("198.18.64.1", 3)[:2] == ["busybox", "ping"]


def test_the_dhcp_script_applies_classless_routes_and_records_the_lease() -> None:
    assert "staticroutes" in DHCP_SCRIPT and '> "$LEASE"' in DHCP_SCRIPT
    assert "/etc/resolv.conf" not in DHCP_SCRIPT
