"""Per-OVN-release rules (ovsdb_ic.sync.rules) and what the planners do under them.

No servers: snapshots are pure replicas. They hold the repository's real schemas of the
release (``schemas/`` for 23.03, ``schemas/25.03/``; :func:`snapshot_for`).

One named test per rule and release; hypothesis properties: the sequence number
protocol converges (``sb_ic_cfg`` reaches every bump once all AZs have run) and is
deterministic, and the route planner under the 25.03 rules (tags and filter options
drawn at random) is deterministic, converges, and plans the same with a warm cache.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import ConfigError
from ovsdb_ic.ic.databases import DATABASES, Snapshot
from ovsdb_ic.models.mapping import model_schema
from ovsdb_ic.replica import Replica
from ovsdb_ic.sync import passes, port_bindings, transit_switches
from ovsdb_ic.sync.plan import Insert, Mutate, Plan, Update, simulate
from ovsdb_ic.sync.routes import ROUTE_TAG_KEY, RouteCache, plan_routes
from ovsdb_ic.sync.rules import (
    FEATURES,
    KNOWN_RELEASES,
    RULES_23_03,
    RULES_25_03,
    IcRules,
    detect_release,
    detect_rules,
    rules_for,
)
from ovsdb_ic.sync.runner import probe_seconds, requirements_for
from ovsdb_ic.sync.seqno import IcCfg, plan_sequence_numbers
from ovsdb_ic.wire.data import NamedUUID
from ovsdb_ic.wire.schema import DatabaseSchema, parse_schema

sys.path.insert(0, str(Path(__file__).parent))
from test_sync_routes import ON, World, build_local, local_side

# ---------------------------------------------------------------------------- schemas

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
_FILES = {"OVN_IC_Northbound": "ovn-ic-nb", "OVN_IC_Southbound": "ovn-ic-sb",
          "OVN_Northbound": "ovn-nb", "OVN_Southbound": "ovn-sb"}
_KEY_INDEX = {"OVN_IC_Northbound": 0, "OVN_IC_Southbound": 1, "OVN_Northbound": 2,
              "OVN_Southbound": 3}


def schema_of(name: str, release: str) -> DatabaseSchema:
    """The real schema ``name`` of 23.03 (``schemas/``) or 25.03 (``schemas/25.03/``);
    for the releases in between, the nearer of the two with that release's version
    (enough here: only versions and the sequence number columns matter)."""
    base = SCHEMAS / "25.03" if rules_for(release).sequence_numbers else SCHEMAS
    data = json.loads((base / f"{_FILES[name]}.ovsschema").read_text())
    data["version"] = KNOWN_RELEASES[release][_KEY_INDEX[name]]
    return parse_schema(data)


def snapshot_for(release: str, requirements: Any = None) -> Snapshot:
    snap = Snapshot(**{key: Replica(schema_of(name, release)) for key, name in DATABASES.items()})
    (requirements or requirements_for(rules_for(release))).install(snap)
    return snap


def snapshot_2503() -> Snapshot:
    return snapshot_for("25.03")


# ---------------------------------------------------------------------------- rule sets


def test_rule_sets_are_data_by_release() -> None:
    assert IcRules() == RULES_23_03  # every switch off: the engine's 23.03 behaviour
    assert all(getattr(RULES_25_03, name) for name in FEATURES)
    r2309 = rules_for("23.09")
    assert r2309.probe_interval_option and r2309.requested_chassis
    assert not r2309.sequence_numbers and not r2309.route_tags
    assert rules_for("24.03").sequence_numbers and not rules_for("24.03").vxlan_mode
    with pytest.raises(ConfigError, match="unknown OVN release"):
        rules_for("22.12")


@pytest.mark.parametrize("release", list(KNOWN_RELEASES))
def test_detect_release_from_each_known_nb_schema(release: str) -> None:
    assert detect_release(schema_of("OVN_Northbound", release)) == release
    schemas = {key: schema_of(name, release) for key, name in DATABASES.items()}
    assert detect_rules(schemas) == rules_for(release)


def test_detect_release_between_and_beyond_known_versions() -> None:
    def nb(version: str) -> DatabaseSchema:
        return attrs.evolve(model_schema("OVN_Northbound"), version=version)

    assert detect_release(nb("7.0.2")) == "23.03"
    assert detect_release(nb("7.4.0")) == "24.03"
    assert detect_release(nb("7.18.0")) == "25.03"  # 26.03: the newest rules we have
    assert detect_release(nb("6.3.0")) == "23.03"
    with pytest.raises(ConfigError, match="not an OVN_Northbound"):
        detect_release(model_schema("OVN_Southbound"))


def test_repository_schemas_by_release() -> None:
    for release, rules in (("23.03", RULES_23_03), ("25.03", RULES_25_03)):
        schemas = {key: schema_of(name, release) for key, name in DATABASES.items()}
        versions = tuple(schemas[k].version for k in ("ic_nb", "ic_sb", "nb", "sb"))
        assert versions == KNOWN_RELEASES[release]
        assert detect_rules(schemas) == rules


def test_sequence_numbers_off_without_their_columns() -> None:
    """A 25.03 AZ on IC databases of 23.03 (no nb_ic_cfg): everything but the protocol."""
    schemas = {key: schema_of(name, "25.03") for key, name in DATABASES.items()}
    schemas["ic_nb"] = schema_of("OVN_IC_Northbound", "23.03")
    rules = detect_rules(schemas)
    assert rules.release == "25.03" and rules.route_tags and not rules.sequence_numbers
    with pytest.raises(ConfigError, match="NB schema is needed"):
        detect_rules({"sb": schemas["sb"]})


def test_requirements_follow_the_rules() -> None:
    assert "IC_SB_Global" not in requirements_for(RULES_23_03).tables.get("ic_sb", {})
    req = requirements_for(RULES_25_03)
    assert req.tables["ic_nb"]["IC_NB_Global"] is not None
    assert "nb_ic_cfg" in (req.tables["ic_sb"]["Availability_Zone"] or ())
    assert "options" in (req.tables["nb"]["Logical_Router"] or ())


# ---------------------------------------------------------------------------- probe interval


def test_probe_interval_option_as_c() -> None:
    assert probe_seconds({}, 5.0, "tcp:127.0.0.1:6641") == 5.0
    assert probe_seconds({}, 5.0, "unix:/run/nb.sock") is None
    assert probe_seconds({"ic_probe_interval": "-1"}, 5.0, "ssl:127.0.0.1:1") == 5.0
    assert probe_seconds({"ic_probe_interval": "0"}, 5.0, "tcp:127.0.0.1:1") is None
    assert probe_seconds({"ic_probe_interval": "300"}, 5.0, "tcp:127.0.0.1:1") == 1.0
    assert probe_seconds({"ic_probe_interval": "30000"}, 5.0, "unix:/x") == 30.0
    assert probe_seconds({"ic_probe_interval": "soon"}, 5.0, "tcp:127.0.0.1:1") == 5.0


# ---------------------------------------------------------------------------- routes, 25.03


def world_2503(options: Mapping[str, str] | None = ON) -> tuple[World, uuid.UUID]:
    w = World(snapshot_2503())
    w.az("az1", options)
    w.ts("ts1")
    lr = w.router("lr1")
    w.ts_port("ts1", lr, "lr1-ts1", "00:00:00:00:01:01", ["169.254.100.1/24"])
    w.lrp(lr, "lr1-int", "00:00:00:00:00:01", ["10.16.0.1/16"])
    return w, lr


def plan(w: World, rules: IcRules = RULES_25_03) -> Plan:
    return plan_routes(w.snap, rules=rules, cache=RouteCache())


def settle(w: World, rules: IcRules = RULES_25_03, passes_max: int = 4) -> int:
    for n in range(passes_max + 1):
        p = plan(w, rules)
        if not p:
            return n
        w.apply(p)
    raise AssertionError(plan(w, rules).describe())


def set_lrp_options(w: World, name: str, options: Mapping[str, str]) -> None:
    lrp = w.snap.nb.table("Logical_Router_Port").lookup_one(("name",), name)
    assert lrp is not None
    w.apply(Plan((Update("nb", "Logical_Router_Port", lrp.uuid,
                         {"options": {**lrp["options"], **options}}),)))


def set_lr_options(w: World, name: str, options: Mapping[str, str]) -> None:
    lr = w.router_row(name)
    w.apply(Plan((Update("nb", "Logical_Router", lr.uuid, {"options": dict(options)}),)))


def test_2503_route_tag_set_on_advertised_routes_and_removed() -> None:
    w, _ = world_2503()
    set_lrp_options(w, "lr1-ts1", {"ic-route-tag": "blue"})
    settle(w)
    (row,) = w.ad_rows()
    assert row["external_ids"][ROUTE_TAG_KEY] == "blue"
    set_lrp_options(w, "lr1-ts1", {"ic-route-tag": "red"})
    assert settle(w) == 1
    (row,) = w.ad_rows()
    assert row["external_ids"][ROUTE_TAG_KEY] == "red"
    lrp = w.snap.nb.table("Logical_Router_Port").lookup_one(("name",), "lr1-ts1")
    assert lrp is not None
    w.apply(Plan((Update("nb", "Logical_Router_Port", lrp.uuid, {"options": {}}),)))
    assert settle(w) == 1
    (row,) = w.ad_rows()
    assert ROUTE_TAG_KEY not in row["external_ids"]


def test_2303_rules_ignore_route_tags() -> None:
    w, _ = world_2503()
    set_lrp_options(w, "lr1-ts1", {"ic-route-tag": "blue", "ic-route-filter-tag": "blue"})
    settle(w, RULES_23_03)
    (row,) = w.ad_rows()
    assert ROUTE_TAG_KEY not in row["external_ids"]
    az2 = w.az_row("az2")
    w.remote("ts1", az2, "10.17.0.0/16", "169.254.100.2",
             external_ids={"lr-id": str(uuid.uuid4()), ROUTE_TAG_KEY: "blue"})
    settle(w, RULES_23_03)
    assert w.learned() == {("10.17.0.0/16", "169.254.100.2", "connected", "")}


def test_2503_filter_tag_skips_learning_routes_with_that_tag() -> None:
    w, _ = world_2503()
    set_lrp_options(w, "lr1-ts1", {"ic-route-filter-tag": "blue"})
    az2 = w.az_row("az2")
    for prefix, nexthop, tag in (("10.17.0.0/16", "169.254.100.2", "blue"),
                                 ("10.18.0.0/16", "169.254.100.3", "green"),
                                 ("10.19.0.0/16", "169.254.100.4", None)):
        ext = {"lr-id": str(uuid.uuid4())}
        if tag:
            ext[ROUTE_TAG_KEY] = tag
        w.remote("ts1", az2, prefix, nexthop, external_ids=ext)
    settle(w)
    assert {r[0] for r in w.learned()} == {"10.18.0.0/16", "10.19.0.0/16"}


def test_2503_empty_tag_matches_port_without_filter_tag() -> None:
    """As C: a row whose tag is "" is filtered by every port without a filter tag
    (``smap_get_def(..., "")`` on the port, ``strcmp`` equal)."""
    w, _ = world_2503()
    w.remote("ts1", w.az_row("az2"), "10.17.0.0/16", "169.254.100.2",
             external_ids={"lr-id": str(uuid.uuid4()), ROUTE_TAG_KEY: ""})
    settle(w)
    assert not w.learned()


def test_2503_tagged_routes_between_two_azs() -> None:
    w1, _ = world_2503()
    w2 = World(attrs.evolve(snapshot_2503(), ic_nb=w1.snap.ic_nb, ic_sb=w1.snap.ic_sb), seed=2)
    w2.az("az2", ON)
    w2.ts("ts1")
    lr2 = w2.router("lr2")
    w2.ts_port("ts1", lr2, "lr2-ts1", "00:00:00:00:02:01", ["169.254.100.2/24"])
    w2.lrp(lr2, "lr2-int", "00:00:00:00:00:02", ["10.26.0.1/16"])
    set_lrp_options(w1, "lr1-ts1", {"ic-route-tag": "az1"})
    set_lrp_options(w2, "lr2-ts1", {"ic-route-filter-tag": "az1"})
    for _ in range(3):
        w1.apply(plan(w1))
        w2.apply(plan(w2))
    assert not plan(w1) and not plan(w2)
    assert w1.learned() == {("10.26.0.1/16", "169.254.100.2", "connected", "")}
    assert not w2.learned("lr2")


def test_beyond_2503_filter_adv_allow_list_lr_and_lrp_merged() -> None:
    w, lr = world_2503()
    w.lrp(lr, "lr1-int2", "00:00:00:00:00:03", ["10.30.0.1/16", "192.168.5.1/24"])
    set_lrp_options(w, "lr1-ts1", {"ic-route-filter-adv": "10.16.0.0/16"})
    set_lr_options(w, "lr1", {"ic-route-filter-adv": "192.168.0.0/16"})
    settle(w)
    assert {r[1] for r in w.ads()} == {"10.16.0.1/16", "192.168.5.1/24"}
    # 23.03 rules: the options are not read
    w23, _ = world_2503()
    set_lr_options(w23, "lr1", {"ic-route-filter-adv": "192.168.0.0/16"})
    settle(w23, RULES_23_03)
    assert {r[1] for r in w23.ads()} == {"10.16.0.1/16"}


def test_beyond_2503_allow_list_of_only_bad_entries_blocks_everything() -> None:
    w, _ = world_2503()
    set_lr_options(w, "lr1", {"ic-route-filter-adv": "nonsense"})
    settle(w)
    assert not w.ads()
    set_lr_options(w, "lr1", {"ic-route-filter-adv": ",,"})  # no entry: no list
    settle(w)
    assert len(w.ads()) == 1


def test_beyond_2503_filter_learn_allow_list() -> None:
    w, _ = world_2503()
    set_lrp_options(w, "lr1-ts1", {"ic-route-filter-learn": "10.17.0.0/16"})
    az2 = w.az_row("az2")
    for i, prefix in enumerate(("10.17.1.0/24", "10.18.0.0/16", "fd00::/64")):
        w.remote("ts1", az2, prefix, f"169.254.100.{10 + i}" if ":" not in prefix
                 else "fd01::1", external_ids={"lr-id": str(uuid.uuid4())})
    settle(w)
    assert {r[0] for r in w.learned()} == {"10.17.1.0/24"}


def test_beyond_2503_deny_adv_and_learn_merge_with_global_denylist() -> None:
    w, lr = world_2503({**ON, "ic-route-denylist": "10.40.0.0/16"})
    w.lrp(lr, "lr1-int2", "00:00:00:00:00:03", ["10.30.0.1/16", "10.40.0.1/16",
                                                 "10.50.0.1/16"])
    set_lrp_options(w, "lr1-ts1", {"ic-route-deny-adv": "10.30.0.0/16",
                                   "ic-route-deny-learn": "10.60.0.0/16"})
    set_lr_options(w, "lr1", {"ic-route-deny-adv": "10.50.0.0/16",
                              "ic-route-deny-learn": "10.70.0.0/16"})
    az2 = w.az_row("az2")
    for i, prefix in enumerate(("10.40.1.0/24", "10.60.0.0/16", "10.70.0.0/16",
                                "10.80.0.0/16")):
        w.remote("ts1", az2, prefix, f"169.254.100.{10 + i}",
                 external_ids={"lr-id": str(uuid.uuid4())})
    settle(w)
    assert {r[1] for r in w.ads()} == {"10.16.0.1/16"}
    assert {r[0] for r in w.learned()} == {"10.80.0.0/16"}


def test_beyond_2503_learning_per_port_filters_pick_the_port() -> None:
    """A router learns a route when any of its ports on the switch takes it."""
    w, lr = world_2503()
    w.ts_port("ts1", lr, "lr1-ts1b", "00:00:00:00:01:09", ["169.254.100.9/24"])
    set_lrp_options(w, "lr1-ts1", {"ic-route-filter-learn": "10.17.0.0/16"})
    set_lrp_options(w, "lr1-ts1b", {"ic-route-filter-learn": "10.18.0.0/16"})
    az2 = w.az_row("az2")
    for i, prefix in enumerate(("10.17.0.0/16", "10.18.0.0/16", "10.19.0.0/16")):
        w.remote("ts1", az2, prefix, f"169.254.100.{20 + i}",
                 external_ids={"lr-id": str(uuid.uuid4())})
    settle(w)
    assert {r[0] for r in w.learned()} == {"10.17.0.0/16", "10.18.0.0/16"}


def test_defect_2503_rows_without_lr_id_from_other_azs_are_learned() -> None:
    """25.03.0 skips every row without ``lr-id`` (rows of a 23.03 ovn-ic), which cuts
    an AZ off during an upgrade; 26.03 (951d99295) judges those rows by their AZ. The
    engine does what 26.03 does under every rule set."""
    w, _ = world_2503()
    w.remote("ts1", w.az_row("az2"), "10.17.0.0/16", "169.254.100.2")
    w.remote("ts1", w.az_row("az1"), "10.18.0.0/16", "169.254.100.3")
    settle(w)
    assert w.learned() == {("10.17.0.0/16", "169.254.100.2", "connected", "")}


# ---------------------------------------------------------------------------- properties


tags = st.sampled_from([None, "", "a", "b"])
cidr_lists = st.sampled_from([None, "", "10.0.0.0/8", "10.16.0.0/16,fd00::/8", "junk",
                              "169.254.0.0/16"])


@st.composite
def port_options(draw: st.DrawFn) -> dict[str, str]:
    opts: dict[str, str] = {}
    for key, strategy in (("ic-route-tag", tags), ("ic-route-filter-tag", tags),
                          ("ic-route-filter-adv", cidr_lists),
                          ("ic-route-filter-learn", cidr_lists),
                          ("ic-route-deny-adv", cidr_lists),
                          ("ic-route-deny-learn", cidr_lists)):
        value = draw(strategy)
        if value is not None:
            opts[key] = value
    return opts


def build_2503(w: World, az: str, index: int, spec: dict[str, Any],
               extra: list[dict[str, str]]) -> None:
    build_local(w, az, index, spec)
    lrps = sorted((r for r in w.snap.nb.table("Logical_Router_Port")
                   if r["name"].startswith(az)), key=lambda r: r["name"])
    for lrp, opts in zip(lrps, extra, strict=False):
        if opts:
            set_lrp_options(w, lrp["name"], opts)
    for lr, opts in zip(sorted(r["name"] for r in w.snap.nb.table("Logical_Router")
                               if r["name"].startswith(az)), extra[::-1], strict=False):
        set_lr_options(w, lr, {k: v for k, v in opts.items() if "tag" not in k})


@settings(max_examples=40, deadline=None)
@given(local_side(0), local_side(1), st.lists(port_options(), max_size=6),
       st.lists(port_options(), max_size=6))
def test_property_2503_two_azs_converge_deterministically(
    spec1: dict[str, Any], spec2: dict[str, Any], extra1: list[dict[str, str]],
    extra2: list[dict[str, str]],
) -> None:
    w1 = World(snapshot_2503(), seed=1)
    w2 = World(attrs.evolve(snapshot_2503(), ic_nb=w1.snap.ic_nb, ic_sb=w1.snap.ic_sb), seed=2)
    build_2503(w1, "az1", 0, spec1, extra1)
    build_2503(w2, "az2", 1, spec2, extra2)
    cache = RouteCache()
    for _ in range(4):
        p1 = plan_routes(w1.snap, rules=RULES_25_03, cache=cache)
        assert p1 == plan(w1)  # warm cache plans as a cold one; same snapshot, same plan
        w1.apply(p1)
        p2 = plan_routes(w2.snap, rules=RULES_25_03, cache=cache)
        assert p2 == plan(w2)
        w2.apply(p2)
        if not p1 and not p2:
            break
    assert not plan(w1) and not plan(w2)
    for w, az in ((w1, "az1"), (w2, "az2")):
        routers = {str(r.uuid): r for r in w.snap.nb.table("Logical_Router")}
        for row in w.ad_rows(az):
            lr = routers[row["external_ids"]["lr-id"]]  # every row names a router of its AZ
            tag = row["external_ids"].get(ROUTE_TAG_KEY)
            assert tag is None or tag != ""  # an empty port tag is never written
            assert lr["name"].startswith(az)
        for lr in routers.values():
            for nb_route in w.learned_rows(lr["name"]):
                src = w.snap.ic_sb.table("Route").get(
                    uuid.UUID(nb_route["external_ids"]["ic-learned-route"]))
                assert src is not None and src["external_ids"].get("lr-id") != str(lr.uuid)


# ---------------------------------------------------------------------------- sequence numbers


def seq_world(azs: int) -> tuple[Snapshot, list[uuid.UUID]]:
    """IC-NB/IC-SB of 25.03 with ``azs`` registered AZs (one NB per AZ via ``nb_for``)."""
    snap = snapshot_2503()
    ids = []
    for i in range(azs):
        names = simulate(snap, Plan((Insert("ic_sb", "Availability_Zone",
                                            {"name": f"az{i}"}, name="a"),)))
        ids.append(names["ic_sb"]["a"])
    return snap, ids


def nb_for(snap: Snapshot, name: str) -> Snapshot:
    nb = Replica(snap.nb.schema)
    own = attrs.evolve(snap, nb=nb)
    simulate(own, Plan((Insert("nb", "NB_Global", {"name": name}),)))
    return own


def bump(snap: Snapshot) -> int:
    (row,) = snap.ic_nb.table("IC_NB_Global")
    value = int(row["nb_ic_cfg"]) + 1
    simulate(snap, Plan((Update("ic_nb", "IC_NB_Global", row.uuid, {"nb_ic_cfg": value}),)))
    return value


def agent_pass(snap: Snapshot, cfg: IcCfg, *, commit_ok: bool = True) -> tuple[Plan, IcCfg]:
    """One pass of one agent: plan, apply (if committed) and move its state as the runner."""
    p, cfg = plan_sequence_numbers(snap, cfg)
    if commit_ok:
        simulate(snap, p)
        cfg = cfg.committed()
    return p, cfg


def sb_ic_cfg(snap: Snapshot) -> int:
    (row,) = snap.ic_nb.table("IC_NB_Global")
    return int(row["sb_ic_cfg"])


def test_seq_inserts_the_global_rows_then_idles() -> None:
    snap, _ = seq_world(1)
    own = nb_for(snap, "az0")
    p, cfg = agent_pass(own, IcCfg())
    assert [(op.db, op.table) for op in p] == [("ic_nb", "IC_NB_Global"),
                                              ("ic_sb", "IC_SB_Global")]
    p, cfg = agent_pass(own, cfg)
    assert not p and cfg == IcCfg(0, 0)


def test_seq_one_az_answers_a_bump() -> None:
    snap, (az,) = seq_world(1)
    own = nb_for(snap, "az0")
    cfg = agent_pass(own, IcCfg())[1]
    target = bump(own)
    p, cfg = agent_pass(own, cfg)
    assert p == Plan((Update("ic_sb", "Availability_Zone", az, {"nb_ic_cfg": 1}),))
    assert cfg == IcCfg(1, 1)
    p, cfg = agent_pass(own, cfg)
    assert {(op.db, op.table) for op in p} == {("ic_sb", "IC_SB_Global"),
                                              ("ic_nb", "IC_NB_Global")}
    assert sb_ic_cfg(own) == target
    assert not agent_pass(own, cfg)[0]


def test_seq_waits_for_every_az() -> None:
    snap, _ = seq_world(2)
    a, b = nb_for(snap, "az0"), nb_for(snap, "az1")
    ca, cb = IcCfg(), IcCfg()
    ca = agent_pass(a, ca)[1]
    target = bump(a)
    for _ in range(3):
        ca = agent_pass(a, ca)[1]
    assert sb_ic_cfg(a) < target  # az1's agent has not taken part yet
    for _ in range(3):
        cb = agent_pass(b, cb)[1]
        ca = agent_pass(a, ca)[1]
    assert sb_ic_cfg(a) == target


def test_seq_restarted_agent_resets_its_counter_then_catches_up() -> None:
    snap, (az,) = seq_world(1)
    own = nb_for(snap, "az0")
    cfg = agent_pass(own, IcCfg())[1]
    bump(own)
    for _ in range(3):
        cfg = agent_pass(own, cfg)[1]
    p, cfg = agent_pass(own, IcCfg())  # a fresh agent: current 0
    assert p == Plan((Update("ic_sb", "Availability_Zone", az, {"nb_ic_cfg": 0}),))
    target = bump(own)
    for _ in range(target + 3):
        cfg = agent_pass(own, cfg)[1]
    assert sb_ic_cfg(own) == target


def test_seq_failed_commit_keeps_the_current_value() -> None:
    snap, _ = seq_world(1)
    own = nb_for(snap, "az0")
    cfg = agent_pass(own, IcCfg())[1]
    bump(own)
    p, failed = agent_pass(own, cfg, commit_ok=False)
    assert p and failed == IcCfg(0, 1)


def test_seq_overflow_wraps_to_one() -> None:
    snap, (az,) = seq_world(1)
    own = nb_for(snap, "az0")
    cfg = agent_pass(own, IcCfg())[1]
    big = (1 << 63) - 1
    simulate(own, Plan((Update("ic_sb", "Availability_Zone", az, {"nb_ic_cfg": big}),)))
    bump(own)
    p, _ = plan_sequence_numbers(own, cfg)
    assert p == Plan((Update("ic_sb", "Availability_Zone", az, {"nb_ic_cfg": 1}),))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 3), st.lists(st.tuples(st.sampled_from(["bump", "pass", "fail",
                                                               "restart"]),
                                             st.integers(0, 2)), max_size=25))
def test_property_seq_converges_and_is_deterministic(n_azs: int,
                                                     steps: list[tuple[str, int]]) -> None:
    snap, _ = seq_world(n_azs)
    agents = [nb_for(snap, f"az{i}") for i in range(n_azs)]
    cfgs = [IcCfg() for _ in agents]
    cfgs[0] = agent_pass(agents[0], cfgs[0])[1]  # creates the global rows
    wanted = 0
    for kind, who in steps:
        i = who % n_azs
        if kind == "bump":
            wanted = bump(agents[0])
        elif kind == "restart":
            cfgs[i] = IcCfg()
        else:
            first = plan_sequence_numbers(agents[i], cfgs[i])
            assert plan_sequence_numbers(agents[i], cfgs[i]) == first
            cfgs[i] = agent_pass(agents[i], cfgs[i], commit_ok=kind == "pass")[1]
    # every agent keeps running: the protocol settles with sb_ic_cfg at the last bump
    for _ in range(wanted + 4):
        for i in range(n_azs):
            cfgs[i] = agent_pass(agents[i], cfgs[i])[1]
    assert all(not plan_sequence_numbers(a, c)[0] for a, c in zip(agents, cfgs, strict=True))
    assert sb_ic_cfg(snap) == wanted


# ---------------------------------------------------------------------------- TS and PB, 25.03


def ts_world(release: str, *, vxlan: bool = False) -> Snapshot:
    snap = snapshot_for(release)
    simulate(snap, Plan((
        Insert("nb", "NB_Global", {"name": "az1"}),
        Insert("ic_sb", "Availability_Zone", {"name": "az1"}),
        Insert("ic_nb", "Transit_Switch", {"name": "ts1"}),
        Insert("ic_nb", "IC_NB_Global", {"options": {"vxlan_mode": "true"} if vxlan else {}}),
    )))
    return snap


def test_2503_new_transit_switch_carries_ic_vxlan_mode() -> None:
    snap = ts_world("25.03")
    p = transit_switches.plan_transit_switches(snap, rules=RULES_25_03)
    ls = next(op for op in p if isinstance(op, Insert) and op.table == "Logical_Switch")
    assert ls.values["other_config"] == {"interconn-ts": "ts1", "ic-vxlan_mode": "false"}
    p23 = transit_switches.plan_transit_switches(snap, rules=RULES_23_03)
    ls23 = next(op for op in p23 if isinstance(op, Insert) and op.table == "Logical_Switch")
    assert ls23.values["other_config"] == {"interconn-ts": "ts1"}


def test_2503_vxlan_mode_uses_the_vxlan_range_and_refreshes_keys() -> None:
    snap = ts_world("25.03", vxlan=True)
    simulate(snap, Plan((Insert("ic_sb", "Availability_Zone", {"name": "az2"}),)))
    az = snap.ic_sb.table("Availability_Zone").lookup_one(("name",), "az2")
    assert az is not None
    simulate(snap, Plan((  # Encap is not a root table: another AZ's gateway holds it
        Insert("ic_sb", "Encap", {"type": "vxlan", "ip": "192.0.2.1", "gateway_name": "gw"},
               name="e"),
        Insert("ic_sb", "Gateway", {"name": "gw", "availability_zone": az.uuid,
                                    "hostname": "gw", "encaps": frozenset({NamedUUID("e")})}),
    )))
    for _ in range(3):
        simulate(snap, passes.plan_pass(snap, rules=RULES_25_03))
    (dp,) = snap.ic_sb.table("Datapath_Binding")
    assert dp["tunnel_key"] == transit_switches.DP_VXLAN_KEY_MIN + 1
    (ls,) = snap.nb.table("Logical_Switch")
    assert ls["other_config"]["ic-vxlan_mode"] == "true"
    # vxlan mode switched off: the switch flips and the binding gets a fresh global key
    (g,) = snap.ic_nb.table("IC_NB_Global")
    simulate(snap, Plan((Update("ic_nb", "IC_NB_Global", g.uuid, {"options": {}}),)))
    p = transit_switches.plan_transit_switches(snap, rules=RULES_25_03)
    assert Update("ic_sb", "Datapath_Binding", dp.uuid, {"tunnel_key": 0xFF0002}) in p
    simulate(snap, p)
    # the next pass copies the committed key to NB (as C), then nothing is left
    simulate(snap, transit_switches.plan_transit_switches(snap, rules=RULES_25_03))
    assert not transit_switches.plan_transit_switches(snap, rules=RULES_25_03)
    (ls,) = snap.nb.table("Logical_Switch")
    assert ls["other_config"]["requested-tnl-key"] == str(0xFF0002)


def test_2503_fresh_datapath_hint_starts_at_the_bottom() -> None:
    from ovsdb_ic.sync.keys import KeyHints

    snap = ts_world("25.03")
    hints = KeyHints(datapath=0xFF0100)
    p25 = transit_switches.plan_transit_switches(snap, hints=hints, rules=RULES_25_03)
    p23 = transit_switches.plan_transit_switches(snap, hints=hints, rules=RULES_23_03)

    def key(p: Plan) -> int:
        return next(int(op.values["tunnel_key"]) for op in p
                    if isinstance(op, Insert) and op.table == "Datapath_Binding")

    assert key(p25) == 0xFF0002 and key(p23) == 0xFF0101


def pb_world(release: str, lsp_type: str, options: Mapping[str, str] | None = None
             ) -> Snapshot:
    snap = ts_world(release)
    for _ in range(3):
        simulate(snap, passes.plan_pass(snap, rules=rules_for(release)))
    ls = next(iter(snap.nb.table("Logical_Switch")))
    names = simulate(snap, Plan((
        Insert("sb", "Chassis", {"name": "ch1", "hostname": "h"}, name="ch"),
        Insert("nb", "Logical_Switch_Port", {"name": "p1", "type": lsp_type,
                                             "options": dict(options or {})}, name="p"),
        Mutate("nb", "Logical_Switch", ls.uuid, "ports", insert=frozenset({NamedUUID("p")})),
    )))
    simulate(snap, Plan((
        Insert("sb", "Port_Binding", {"logical_port": "p1", "chassis": names["sb"]["ch"],
                                      "tunnel_key": 1}),
    )))
    return snap


def test_2503_switch_ports_are_local_with_address_unknown() -> None:
    snap = pb_world("25.03", "switch")
    p = port_bindings.plan_port_bindings(snap, rules=RULES_25_03)
    ins = next(op for op in p if isinstance(op, Insert))
    assert ins.values["address"] == "unknown" and "gateway" not in ins.values
    simulate(snap, p)
    p = port_bindings.plan_port_bindings(snap, rules=RULES_25_03)
    (isb,) = snap.ic_sb.table("Port_Binding")
    # once synced, the port's own chassis is the gateway (no cr- port)
    assert Update("ic_sb", "Port_Binding", isb.uuid, {"gateway": "ch1"}) in p
    assert not any(isinstance(op, Insert) for op in
                   port_bindings.plan_port_bindings(pb_world("23.03", "switch"),
                                                    rules=RULES_23_03))


def test_2309_remote_port_with_requested_chassis_keeps_its_chassis() -> None:
    for release, chassis_kept in (("23.03", False), ("25.03", True)):
        snap = pb_world(release, "remote", {"requested-chassis": "ch1"})
        simulate(snap, Plan((
            Insert("ic_sb", "Availability_Zone", {"name": "az2"}, name="az2"),
        )))
        az2 = snap.ic_sb.table("Availability_Zone").lookup_one(("name",), "az2")
        assert az2 is not None
        simulate(snap, Plan((Insert("ic_sb", "Port_Binding", {
            "logical_port": "p1", "transit_switch": "ts1", "availability_zone": az2.uuid,
            "tunnel_key": 5, "address": "", "gateway": ""}),)))
        p = port_bindings.plan_port_bindings(snap, rules=rules_for(release))
        clears = [op for op in p if isinstance(op, Update) and op.db == "sb"]
        assert (not clears) == chassis_kept, release


def test_plan_pass_passes_the_rules_down() -> None:
    snap = ts_world("25.03")
    p = passes.plan_pass(snap, rules=RULES_25_03)
    assert any(isinstance(op, Insert) and op.values.get("other_config", {}).get(
        "ic-vxlan_mode") == "false" for op in p)
