"""ovn-ic-config: parsing (data, YAML, JSON), validation of every field at once, remotes."""

from __future__ import annotations

import io
import json
import string
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ovsdb_ic.errors import ConfigError, OvsdbError
from ovsdb_ic.kubeovn.config import (
    KEYS,
    MAX_DOCUMENT_BYTES,
    ConfigProblem,
    IcConfig,
    IcConfigError,
    parse_document,
)

VALID: dict[str, str] = {
    "enable-ic": "true",
    "az-name": "az1",
    "ic-db-host": "192.168.65.3",
    "ic-nb-port": "6645",
    "ic-sb-port": "6646",
    "gw-nodes": "az1-gw",
    "auto-route": "true",
}


def problems_of(data: dict[str, Any]) -> IcConfigError:
    with pytest.raises(IcConfigError) as info:
        IcConfig.from_data(data)
    return info.value


def fields_of(data: dict[str, Any]) -> set[str]:
    return set(problems_of(data).fields)


# ------------------------------------------------------------------ strategies

_label = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=8)
_hostname = st.lists(_label, min_size=1, max_size=3).map(".".join).filter(
    lambda h: not all(part.isdigit() for part in h.split("."))
)
_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_host = st.one_of(_ipv4, _ipv6, _hostname)
_hosts = st.one_of(
    st.tuples(_host),
    st.lists(_host, min_size=3, max_size=3, unique_by=lambda h: h.lower()).map(tuple),
)
_az_name = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?", fullmatch=True)
_node = st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,15}[a-z0-9])?", fullmatch=True)
_port = st.integers(1, 65535)


@st.composite
def valid_configs(draw: st.DrawFn) -> IcConfig:
    enable = draw(st.booleans())
    nodes = draw(st.lists(_node, min_size=1 if enable else 0, max_size=4, unique=True))
    return IcConfig(
        enable_ic=enable,
        az_name=draw(_az_name),
        ic_db_hosts=draw(_hosts),
        ic_nb_port=draw(_port),
        ic_sb_port=draw(_port),
        gw_nodes=tuple(nodes),
        auto_route=draw(st.booleans()),
    )


# Values that are wrong for their field whatever the other fields hold (None: key removed).
INVALID: dict[str, list[str | None]] = {
    "enable-ic": ["yes", "True", "1", "", "on", None],
    "auto-route": ["no", "TRUE", "0", "enabled"],
    "az-name": ["", "  ", "a b", "-az", "az,1", "az/1", "a" * 64, None],
    "ic-db-host": [
        "", "10.0.0.1,10.0.0.2", "a,b,c,d", "256.1.1.1", "bad_host!", "1.2.3",
        "10.0.0.1,10.0.0.1,10.0.0.2", "[::1", "fd00::1::2", None,
    ],
    "ic-nb-port": ["0", "65536", "-1", "abc", "", "6645.0", "99999999"],
    "ic-sb-port": ["0", "70000", "x", " "],
    "gw-nodes": ["a,a", "Node1", "n_1", "-x", "gw1,GW2", "a, b, a"],
}


@st.composite
def broken_data(draw: st.DrawFn) -> tuple[dict[str, str], set[str]]:
    config = draw(valid_configs().filter(lambda c: c.enable_ic))
    data: dict[str, str] = config.to_data()
    fields = draw(st.sets(st.sampled_from(sorted(INVALID)), min_size=1))
    for field in fields:
        value = draw(st.sampled_from(INVALID[field]))
        if value is None:
            del data[field]
        else:
            data[field] = value
    unknown = draw(st.sets(st.sampled_from(["ts-num", "az_name", "enable_ic", "x"]), max_size=2))
    for key in unknown:
        data[key] = "1"
    return data, fields | unknown


# ---------------------------------------------------------------- round trips


@settings(max_examples=100, deadline=None)
@given(valid_configs())
def test_valid_configs_round_trip_through_data(config: IcConfig) -> None:
    data = config.to_data()
    assert list(data) == list(KEYS)
    assert all(isinstance(v, str) for v in data.values())
    assert IcConfig.from_data(data) == config


@settings(max_examples=60, deadline=None)
@given(valid_configs(), st.sampled_from(["yaml", "json"]))
def test_valid_configs_round_trip_through_documents(config: IcConfig, fmt: Any) -> None:
    text = config.to_document(fmt)
    assert IcConfig.from_document(text) == config
    assert IcConfig.from_document(text.encode()) == config


@settings(max_examples=150, deadline=None)
@given(broken_data())
def test_the_error_names_exactly_the_invalid_fields(case: tuple[dict[str, str], set[str]]) -> None:
    data, fields = case
    error = problems_of(data)
    assert set(error.fields) == fields
    for problem in error.problems:
        assert problem.field in str(error)
        assert problem.reason in str(error)


def test_defaults() -> None:
    config = IcConfig.from_data(
        {"enable-ic": "true", "az-name": "az1", "ic-db-host": "10.0.0.1", "gw-nodes": "gw1"}
    )
    assert config == IcConfig(
        enable_ic=True, az_name="az1", ic_db_hosts=("10.0.0.1",), ic_nb_port=6645,
        ic_sb_port=6646, gw_nodes=("gw1",), auto_route=False,
    )


def test_the_kube_ovn_documentation_example() -> None:
    config = IcConfig.from_data(VALID)
    assert config.enable_ic and config.auto_route
    assert config.az_name == "az1"
    assert config.ic_db_hosts == ("192.168.65.3",)
    assert config.gw_nodes == ("az1-gw",)


def test_list_items_are_stripped_and_empty_ones_dropped() -> None:
    config = IcConfig.from_data(
        {**VALID, "ic-db-host": " 10.0.0.1 , [fd00::2], host-3.example ,", "gw-nodes": "a, b,,c,"}
    )
    assert config.ic_db_hosts == ("10.0.0.1", "fd00::2", "host-3.example")
    assert config.gw_nodes == ("a", "b", "c")


def test_the_config_is_immutable_and_hashable() -> None:
    config = IcConfig.from_data(VALID)
    with pytest.raises(AttributeError):
        config.az_name = "az2"  # type: ignore[misc]
    assert hash(config) == hash(IcConfig.from_data(dict(VALID)))


# -------------------------------------------------------------- validation rules


def test_the_error_is_a_config_error_a_value_error_and_an_ovsdb_error() -> None:
    error = problems_of({**VALID, "az-name": ""})
    assert isinstance(error, ConfigError)
    assert isinstance(error, ValueError)
    assert isinstance(error, OvsdbError)
    assert error.field == "az-name"
    assert error.value == {"az-name": ""}
    assert error.reason == "must not be empty"
    assert error.problems == (ConfigProblem("az-name", "", "must not be empty"),)


def test_every_problem_is_reported_at_once() -> None:
    error = problems_of({
        "enable-ic": "yes", "az-name": "", "ic-db-host": "1.1.1.1,2.2.2.2",
        "ic-nb-port": "70000", "gw-nodes": "a,a", "colour": "blue",
    })
    assert error.fields == ("colour", "enable-ic", "az-name", "ic-db-host", "ic-nb-port",
                            "gw-nodes")
    text = str(error)
    assert text.startswith("invalid ovn-ic-config (6 problems):")
    assert "colour: unknown key" in text
    assert "enable-ic: must be \"true\" or \"false\" (got 'yes')" in text
    assert "az-name: must not be empty" in text
    assert "ic-db-host: must list 1 host or 3 hosts (a Raft cluster), not 2" in text
    assert "ic-nb-port: must be a port from 1 to 65535 (got '70000')" in text
    assert "gw-nodes: duplicate node a" in text


def test_unknown_keys_are_named() -> None:
    error = problems_of({**VALID, "ic_nb_port": "6645", "ts-num": "3"})
    assert error.fields == ("ic_nb_port", "ts-num")
    assert all("unknown key" in p.reason for p in error.problems)


@pytest.mark.parametrize("key", ["enable-ic", "auto-route"])
@pytest.mark.parametrize("value", ["yes", "True", "TRUE", "1", "", "false!"])
def test_flags_must_be_true_or_false(key: str, value: str) -> None:
    error = problems_of({**VALID, key: value})
    assert error.problems == (ConfigProblem(key, value, 'must be "true" or "false"'),)


@pytest.mark.parametrize("key", ["enable-ic", "az-name", "ic-db-host"])
def test_required_keys(key: str) -> None:
    data = dict(VALID)
    del data[key]
    error = problems_of(data)
    assert error.problems == (ConfigProblem(key, None, "required key is missing"),)
    assert f"{key}: required key is missing (missing)" in str(error)


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_az_name(value: str) -> None:
    assert problems_of({**VALID, "az-name": value}).problems == (
        ConfigProblem("az-name", value.strip(), "must not be empty"),
    )


@pytest.mark.parametrize("value", ["a b", "-az", "az-", "az,1", "az;1", "az/1", "a" * 64])
def test_bad_az_name(value: str) -> None:
    assert fields_of({**VALID, "az-name": value}) == {"az-name"}


@pytest.mark.parametrize("value", ["az1", "AZ_1", "eu-west.1", "a" * 63, "1"])
def test_good_az_name(value: str) -> None:
    assert IcConfig.from_data({**VALID, "az-name": value}).az_name == value


@pytest.mark.parametrize("hosts", ["10.0.0.1,10.0.0.2", "a,b,c,d", "a,b,c,d,e"])
def test_ic_db_host_takes_one_or_three_hosts(hosts: str) -> None:
    (problem,) = problems_of({**VALID, "ic-db-host": hosts}).problems
    assert problem.field == "ic-db-host"
    assert "must list 1 host or 3 hosts" in problem.reason


@pytest.mark.parametrize(
    ("hosts", "reason"),
    [
        ("256.1.1.1", "'256.1.1.1' is not a valid IPv4 address"),
        ("1.2.3", "'1.2.3' is not a valid IPv4 address"),
        ("bad_host", "'bad_host' is not a valid hostname or IP address"),
        ("-bad.example", "'-bad.example' is not a valid hostname or IP address"),
        ("fd00::1::2", "'fd00::1::2' is not a valid IPv6 address"),
        ("[fd00::1", "'[fd00::1' is not a valid IPv6 address"),
        ("a,,b", "empty host in the list"),
    ],
)
def test_ic_db_host_entries_must_be_addresses_or_hostnames(hosts: str, reason: str) -> None:
    problems = problems_of({**VALID, "ic-db-host": hosts}).problems
    assert {p.field for p in problems} == {"ic-db-host"}
    assert any(reason in p.reason for p in problems), problems


@pytest.mark.parametrize("hosts", ["10.0.0.1,10.0.0.1,10.0.0.2", "fd00::1,FD00:0::1,h", "A,a,b"])
def test_ic_db_host_duplicates(hosts: str) -> None:
    (problem,) = problems_of({**VALID, "ic-db-host": hosts}).problems
    assert problem.field == "ic-db-host"
    assert problem.reason.startswith("duplicate host")


@pytest.mark.parametrize("key", ["ic-nb-port", "ic-sb-port"])
@pytest.mark.parametrize("value", ["0", "65536", "-1", "abc", "", "6645.0", "0x10", "٣"])
def test_ports_out_of_range_or_not_numbers(key: str, value: str) -> None:
    assert problems_of({**VALID, key: value}).problems == (
        ConfigProblem(key, value, "must be a port from 1 to 65535"),
    )


@pytest.mark.parametrize("value", ["1", "65535", " 6641 "])
def test_ports_in_range(value: str) -> None:
    assert IcConfig.from_data({**VALID, "ic-sb-port": value}).ic_sb_port == int(value)


@pytest.mark.parametrize("nodes", ["a,a", "a, b, a", "gw1,gw2,gw1,gw2"])
def test_duplicate_gateway_nodes(nodes: str) -> None:
    (problem,) = problems_of({**VALID, "gw-nodes": nodes}).problems
    assert problem.field == "gw-nodes"
    assert problem.reason.startswith("duplicate node")


@pytest.mark.parametrize("nodes", ["Node1", "n_1", "-x", "x-", "gw 1"])
def test_bad_gateway_node_names(nodes: str) -> None:
    (problem,) = problems_of({**VALID, "gw-nodes": nodes}).problems
    assert problem.field == "gw-nodes"
    assert "node name" in problem.reason


def test_gateway_nodes_are_needed_only_when_enabled() -> None:
    (problem,) = problems_of({**VALID, "gw-nodes": ""}).problems
    assert problem.field == "gw-nodes"
    assert "at least one gateway node" in problem.reason
    assert fields_of({k: v for k, v in VALID.items() if k != "gw-nodes"}) == {"gw-nodes"}
    off = IcConfig.from_data({**VALID, "enable-ic": "false", "gw-nodes": ""})
    assert off.gw_nodes == () and not off.enable_ic


def test_non_string_values_are_named() -> None:
    error = problems_of({**VALID, "ic-nb-port": 6645, "auto-route": True})
    assert set(error.fields) == {"ic-nb-port", "auto-route"}
    assert all(p.reason == "must be a string" for p in error.problems)


def test_direct_construction_validates_too() -> None:
    with pytest.raises(IcConfigError) as info:
        IcConfig(enable_ic=True, az_name="", ic_db_hosts=("h1", "h2"), ic_nb_port=0,
                 gw_nodes=("a", "a"))
    assert info.value.fields == ("az-name", "ic-db-host", "ic-nb-port", "gw-nodes")
    with pytest.raises(IcConfigError) as info:
        IcConfig(enable_ic="true", az_name="az", ic_db_hosts=("h",),  # type: ignore[arg-type]
                 ic_nb_port=True)
    assert info.value.fields == ("enable-ic", "ic-nb-port")
    with pytest.raises(TypeError):
        IcConfig(enable_ic=True, az_name="az", ic_db_hosts="h1")


def test_an_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        IcConfigError([])


# --------------------------------------------------------------------- remotes


def test_remotes_for_one_host() -> None:
    config = IcConfig.from_data(VALID)
    assert config.ic_nb_remotes() == "tcp:192.168.65.3:6645"
    assert config.ic_sb_remotes() == "tcp:192.168.65.3:6646"
    assert config.ic_sb_remotes("ssl") == "ssl:192.168.65.3:6646"


def test_remotes_for_a_raft_cluster_bracket_ipv6() -> None:
    config = IcConfig.from_data(
        {**VALID, "ic-db-host": "10.0.0.1,fd00::2,ic-db-3", "ic-nb-port": "16645",
         "ic-sb-port": "16646"}
    )
    assert config.ic_nb_remotes() == "tcp:10.0.0.1:16645,tcp:[fd00::2]:16645,tcp:ic-db-3:16645"
    assert config.ic_sb_remotes() == "tcp:10.0.0.1:16646,tcp:[fd00::2]:16646,tcp:ic-db-3:16646"


def test_remotes_parse_with_the_client_remote_parser() -> None:
    from ovsdb_ic.client.remotes import parse_remotes

    config = IcConfig.from_data({**VALID, "ic-db-host": "10.0.0.1,fd00::2,ic-db-3"})
    remotes = parse_remotes(config.ic_sb_remotes())
    assert [(r.kind, r.host, r.port) for r in remotes] == [
        ("tcp", "10.0.0.1", 6646), ("tcp", "fd00::2", 6646), ("tcp", "ic-db-3", 6646),
    ]


def test_remote_scheme_is_checked() -> None:
    with pytest.raises(ConfigError, match="scheme"):
        IcConfig.from_data(VALID).ic_nb_remotes("unix")  # type: ignore[arg-type]


# ------------------------------------------------------------------- documents

CONFIGMAP_YAML = """\
# ovn-ic-config for the first cluster
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ovn-ic-config
  namespace: kube-system
  labels:
    app: "kube-ovn"   # a nested mapping
data:
  enable-ic: "true"
  az-name: 'az1'      # quoted either way
  ic-db-host: 192.168.65.3,192.168.65.4,192.168.65.5
  ic-nb-port: "6645"

  gw-nodes: "az1-gw1,az1-gw2"
  auto-route: true
...
"""


def test_a_configmap_yaml_document() -> None:
    config = IcConfig.from_document(CONFIGMAP_YAML)
    assert config == IcConfig(
        enable_ic=True, az_name="az1",
        ic_db_hosts=("192.168.65.3", "192.168.65.4", "192.168.65.5"),
        gw_nodes=("az1-gw1", "az1-gw2"), auto_route=True,
    )


def test_a_configmap_json_document() -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "ovn-ic-config", "namespace": "kube-system"},
           "data": {**VALID, "ic-nb-port": 6645, "auto-route": False}}
    config = IcConfig.from_document(json.dumps(doc, indent=2))
    assert config.ic_nb_port == 6645 and config.auto_route is False


def test_a_bare_data_mapping_is_accepted() -> None:
    text = "\n".join(f"{k}: {json.dumps(v)}" for k, v in VALID.items())
    assert IcConfig.from_document(text) == IcConfig.from_data(VALID)
    assert IcConfig.from_document(json.dumps(VALID)) == IcConfig.from_data(VALID)


def test_yaml_scalars() -> None:
    text = (
        "data:\n"
        "  a: plain text with spaces\n"
        "  b: \"tab\\there \\\"q\\\" \\u00e9 \\x41 # not a comment\"\n"
        "  c: 'it''s # not a comment'\n"
        "  d: a#b\n"
        "  e: ''\n"
        "  \"quoted key\": x\n"
        "  f: x   # trailing comment\n"
        "  g: ''\n"
        "  h: -5\n"
        "  i: http://x\n"
    )
    assert parse_document(text) == {
        "a": "plain text with spaces",
        "b": "tab\there \"q\" \u00e9 A # not a comment",
        "c": "it's # not a comment",
        "d": "a#b",
        "e": "",
        "quoted key": "x",
        "f": "x",
        "g": "",
        "h": "-5",
        "i": "http://x",
    }


def test_windows_line_endings_and_a_byte_order_mark() -> None:
    text = "\ufeffdata:\r\n  az-name: az1\r\n"
    assert parse_document(text.encode("utf-8")) == {"az-name": "az1"}


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=20), max_size=6),
       st.sampled_from(["double", "json", "dump", "flow"]))
def test_quoted_yaml_and_json_round_trip_any_text(data: dict[str, str], style: str) -> None:
    if style == "json":
        text = json.dumps({"kind": "ConfigMap", "data": data})
    elif style == "dump":  # what a YAML library writes, e.g. kubectl -o yaml
        if any(c in "\x85\u2028\u2029" for item in data.items() for c in "".join(item)):
            return  # PyYAML's writer leaves YAML 1.1's extra line breaks unescaped
        text = yaml.safe_dump({"kind": "ConfigMap", "data": data}, allow_unicode=True)
    elif style == "flow":
        text = yaml.safe_dump({"kind": "ConfigMap", "data": data}, default_flow_style=True)
    else:
        lines = ["kind: ConfigMap", "data:" if data else "data: {}"]
        lines += [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()]
        if any(ord(c) > 0xFFFF for item in data.items() for c in "".join(item)):
            return  # JSON escapes these as surrogate pairs, which YAML does not join
        text = "\n".join(lines)
    assert parse_document(text) == data


KUBECTL_YAML = """\
apiVersion: v1
data:
  auto-route: "true"
  az-name: az1
  enable-ic: "true"
  gw-nodes: az1-gw1,az1-gw2
  ic-db-host: 192.168.65.3,192.168.65.4,192.168.65.5
  ic-nb-port: "6645"
  ic-sb-port: "6646"
kind: ConfigMap
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","data":{"az-name":"az1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"ovn-ic-config","namespace":"kube-system"}}
  creationTimestamp: "2026-12-06T10:00:00Z"
  name: ovn-ic-config
  namespace: kube-system
  resourceVersion: "4242"
  uid: 7c9f0e1a-1111-2222-3333-444455556666
"""


def test_yaml_the_subset_parser_refused() -> None:
    expected = IcConfig(
        enable_ic=True, az_name="az1",
        ic_db_hosts=("192.168.65.3", "192.168.65.4", "192.168.65.5"),
        gw_nodes=("az1-gw1", "az1-gw2"), auto_route=True,
    )
    flow = (
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: ovn-ic-config, namespace: kube-system}\n"
        "data: {enable-ic: 'true', az-name: az1, gw-nodes: 'az1-gw1,az1-gw2',\n"
        "       ic-db-host: '192.168.65.3,192.168.65.4,192.168.65.5', auto-route: 'true'}\n"
    )
    assert IcConfig.from_document(flow) == expected
    assert IcConfig.from_document(KUBECTL_YAML) == expected
    kubectl_json = json.dumps(yaml.safe_load(KUBECTL_YAML), indent=4)
    assert IcConfig.from_document(kubectl_json) == expected
    anchors_and_block_scalars = (
        "---\n# ovn-ic-config\nkind: ConfigMap\ndata:\n"
        "  enable-ic: &on \"true\"\n  auto-route: *on\n  az-name: >-\n    az1\n"
        "  ic-db-host: |-\n    192.168.65.3,192.168.65.4,192.168.65.5\n"
        "  gw-nodes: !!str az1-gw1,az1-gw2\n...\n"
    )
    assert IcConfig.from_document(anchors_and_block_scalars) == expected


def test_a_bad_flow_style_configmap_still_names_every_bad_field() -> None:
    text = (
        "metadata: {name: ovn-ic-config, namespace: kube-system}\n"
        "data: {enable-ic: maybe, az-name: '', ic-db-host: 'a,b', ic-nb-port: '0',\n"
        "       gw-nodes: 'GW', auto-route: 'yes'}\n"
    )
    with pytest.raises(IcConfigError) as info:
        IcConfig.from_document(text)
    assert set(info.value.fields) == {
        "enable-ic", "az-name", "ic-db-host", "ic-nb-port", "gw-nodes", "auto-route",
    }


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("data:\n  a: b\n---\ndata:\n  a: c\n", "expected a single document"),
        ("data:\n\ta: b\n", "invalid YAML"),
        ("data:\n  a: b\n  a: c\n", "duplicate key 'a'"),
        ("data:\n  a: \"b\n", "invalid YAML"),
        ("data:\n  a: b: c\n", "invalid YAML"),
        ("data:\n  a: *nowhere\n", "undefined alias"),
        ("data:\n  a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("# nothing\n\n", "the document is empty"),
        ("- a\n- b\n", "must be a mapping (a ConfigMap or its data), not a list"),
        ("just text\n", "not a string"),
        ("a: &x [*x]\n", "refers to a node that contains it"),
    ],
)
def test_bad_yaml_is_refused(text: str, reason: str) -> None:
    with pytest.raises(IcConfigError) as info:
        parse_document(text)
    (problem,) = info.value.problems
    assert problem.field == "document"
    assert reason in problem.reason


def test_yaml_errors_name_the_line() -> None:
    with pytest.raises(IcConfigError) as info:
        parse_document("kind: ConfigMap\ndata:\n  a: b\n  - c\n")
    (problem,) = info.value.problems
    assert problem.reason.startswith("line 4: ")


def test_a_yaml_bomb_is_refused_without_building_it() -> None:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    lines.append("data: {a: *l9}")  # 9**10 = 3.5 billion strings once expanded
    t0 = time.perf_counter()
    with pytest.raises(IcConfigError, match="expands to more than 100000 YAML nodes"):
        parse_document("\n".join(lines))
    assert time.perf_counter() - t0 < 2
    # A few aliases of small nodes are fine.
    assert parse_document("x: &v 'true'\ndata: {enable-ic: *v, auto-route: *v}\n") == {
        "enable-ic": "true", "auto-route": "true",
    }


def test_a_huge_document_is_refused_unread(tmp_path: Path) -> None:
    text = "data:\n" + "".join(f"  k{i}: {'x' * 100}\n" for i in range(20_000))
    assert len(text) > MAX_DOCUMENT_BYTES
    with pytest.raises(IcConfigError, match="larger than 1048576 bytes"):
        parse_document(text)
    path = tmp_path / "huge.yaml"
    path.write_text(text)
    with pytest.raises(IcConfigError, match="larger than 1048576 bytes"):
        IcConfig.from_file(path)
    with pytest.raises(IcConfigError, match="nested too deeply"):
        parse_document("[" * 200_000 + "]" * 200_000)


def test_from_file_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(KUBECTL_YAML.encode())))
    assert IcConfig.from_file("-") == IcConfig.from_document(KUBECTL_YAML)


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ('{"kind": "Secret", "data": {}}', "kind", "must be ConfigMap"),
        ('{"kind": "ConfigMap", "data": "x"}', "data", "must be a mapping"),
        ('{"data": {"az-name": null}}', "az-name", "must be a string, not null"),
        ('{"data": {"az-name": {"x": 1}}}', "az-name", "must be a string"),
        ('{"data": {"ic-nb-port": 6645.5}}', "ic-nb-port", "must be a string"),
        ("kind: ConfigMap\ndata:\n  a:\n    b: c\n", "a", "must be a string"),
        ('{"data": {', "document", "invalid JSON"),
        ('[1, 2]', "document", "the document must be a mapping"),
    ],
)
def test_document_shape_problems(text: str, field: str, reason: str) -> None:
    with pytest.raises(IcConfigError) as info:
        parse_document(text)
    assert info.value.fields == (field,)
    assert reason in info.value.problems[0].reason


def test_a_configmap_without_data_is_refused_clearly() -> None:
    for text in ("apiVersion: v1\nkind: ConfigMap\ndata:\n",
                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ovn-ic-config}\n",
                 '{"apiVersion": "v1", "kind": "ConfigMap"}'):
        with pytest.raises(IcConfigError) as info:
            parse_document(text)
        assert info.value.fields == ("data",)
        assert "the ConfigMap has no data" in str(info.value)


def test_empty_data_reports_the_missing_keys() -> None:
    error = problems_of(parse_document("apiVersion: v1\nkind: ConfigMap\ndata: {}\n"))
    # gw-nodes is only required once enable-ic is known to be true
    assert set(error.fields) == {"enable-ic", "az-name", "ic-db-host"}


def test_documents_that_are_not_utf8() -> None:
    with pytest.raises(IcConfigError, match="not UTF-8"):
        parse_document(b"data:\n  a: \xff\n")


def test_from_file(tmp_path: Path) -> None:
    path = tmp_path / "ovn-ic-config.yaml"
    path.write_text(CONFIGMAP_YAML, encoding="utf-8")
    assert IcConfig.from_file(path) == IcConfig.from_document(CONFIGMAP_YAML)
    with pytest.raises(IcConfigError) as info:
        IcConfig.from_file(tmp_path / "missing.yaml")
    assert info.value.fields == ("document",)
    assert "cannot read the file" in str(info.value)


def test_to_document_yaml_is_a_quoted_configmap() -> None:
    text = IcConfig.from_data(VALID).to_document(name="ic", namespace="ns")
    assert text.splitlines()[:6] == [
        "apiVersion: v1", "kind: ConfigMap", "metadata:", '  name: "ic"',
        '  namespace: "ns"', "data:",
    ]
    assert '  enable-ic: "true"' in text.splitlines()
    parsed = json.loads(IcConfig.from_data(VALID).to_document("json"))
    assert parsed["kind"] == "ConfigMap" and parsed["data"]["ic-nb-port"] == "6645"
