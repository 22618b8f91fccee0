"""The bench end to end at a tiny size, HTTP included. Counts are asserted; timings never are."""

import io
import json
import statistics
import sys
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from tests.bench import __main__ as cli
from tests.bench import coldstart, cost, counts, growth, report, suite
from tests.bench.load import Job, Outcome
from tests.bench.progress import Progress


@pytest.fixture(scope="module")
def quick_result():
    return suite.run(suite.Sizes.quick(), quick=True)


def test_a_committed_transaction_takes_four_dynamodb_requests_and_no_read(quick_result):
    committed = quick_result["requestCounts"]["committed"]

    assert committed["status"] == "SUCCEEDED"
    assert committed["dynamodbTotal"] <= suite.TARGET_DYNAMODB_REQUESTS
    assert "GetItem" not in committed["dynamodb"]
    assert committed["rru"] == 0
    assert committed["lambdaTotal"] == 3  # AcquireLock, PutTransaction, UpdateBalance
    assert quick_result["target"]["met"] is True


def test_write_units_are_priced_from_the_items_counted(quick_result):
    counts = quick_result["requestCounts"]

    for outcome in ("committed", "replay", "overdraft"):
        counted = counts[outcome]
        assert counted["transactItemKinds"] == {
            kind: sum(items.get(kind, 0) for items in counted["transactItems"])
            for kind in counted["transactItemKinds"]
        }
        assert len(counted["transactItems"]) == counted["dynamodb"].get("TransactWriteItems", 0)
        assert (
            counted["wru"]
            == cost.request_units(counted["dynamodb"], counted["transactItems"], counts["itemKb"])[
                "wru"
            ]
        )


def test_the_projection_of_a_committed_entry_reads_once_and_writes_two_items(quick_result):
    committed = quick_result["requestCounts"]["committed"]

    # A user's second entry: the newest days read, then its hour and its day.
    assert committed["streamDynamodb"] == {"Query": 1, "TransactWriteItems": 1}
    assert (committed["streamWru"], committed["streamRru"]) == (4, 1)
    assert committed["consistent"] is True


def test_replays_and_overdrafts_are_counted_from_their_own_calls(quick_result):
    counts = quick_result["requestCounts"]

    assert counts["replay"]["status"] == "SUCCEEDED"
    # Neither writes the balance: no Update inside a transaction, no UpdateBalance for a replay.
    assert "Update" not in counts["replay"]["transactItemKinds"]
    assert "UpdateBalanceFunction" not in counts["replay"]["lambda"]
    assert counts["overdraft"]["error"] == "InsufficientFundsError"
    assert "Update" not in counts["overdraft"]["transactItemKinds"]
    assert counts["overdraft"]["lambda"]["DeleteTransactionFunction"] == 1
    assert counts["committed"]["transactItemKinds"].get("Update", 0) >= 1


def test_load_phases_run_on_both_transports_and_leave_the_invariants_intact(quick_result):
    phases = quick_result["load"]
    scenarios = {"sequential", "many-users x2", "hot-user x2"}

    assert {(p["transport"], p["scenario"]) for p in phases} == {
        (transport, scenario) for transport in ("embedded", "http") for scenario in scenarios
    }
    assert quick_result["http"] == {"run": True, "reason": ""}
    assert all(phase["invariantViolations"] == 0 for phase in phases)
    assert all(sum(phase["statuses"].values()) == phase["requests"] for phase in phases)
    assert all(set(phase["statuses"]) <= {"201", "429"} for phase in phases)
    assert all(phase["lock"]["waitMsAcquired"]["count"] > 0 for phase in phases)
    assert set(quick_result["coldStarts"]["handlers"]) == set(coldstart.handler_modules())


def test_the_overhead_is_measured_per_transport_against_the_same_requests(quick_result):
    overhead = quick_result["overhead"]
    committed = quick_result["requestCounts"]["committed"]["dynamodb"]
    pairs = suite.Sizes.quick().overhead_pairs

    assert set(overhead) == {"embedded", "http"}
    for measured in overhead.values():
        assert measured["baselineMs"]["count"] == measured["sagaMs"]["count"] == pairs
        assert measured["baselineDynamodbPerTransaction"] == committed
    assert set(quick_result["overheadRatio"]) == {"embedded", "http"}


def test_a_full_run_compares_the_transaction_machine_in_both_dialects(quick_result):
    measured = quick_result["dialects"]

    assert measured["pairs"] == suite.Sizes.quick().dialect_pairs
    assert measured["jsonata"]["executionMs"]["count"] == measured["pairs"]
    assert measured["jsonpath"]["executionMs"]["count"] == measured["pairs"]


def test_results_are_written_read_back_and_rendered(quick_result, tmp_path):
    path = suite.write(quick_result, tmp_path)
    loaded = json.loads(path.read_text())

    assert loaded == json.loads((tmp_path / "latest.json").read_text())
    assert loaded["version"] == suite.SCHEMA_VERSION
    assert "Cost per million" in report.text(loaded)
    assert "| --- |" in report.markdown(loaded)
    assert "req/s" in report.compare(loaded, loaded)
    assert "--quick" not in report.compare(loaded, loaded)


def _progress() -> Progress:
    return Progress(1, io.StringIO())


def test_an_http_phase_that_cannot_start_is_an_error(monkeypatch):
    monkeypatch.setattr(suite, "http_available", lambda: (False, "no server module"))

    with pytest.raises(suite.HttpPhaseError, match="no server module"):
        suite._http(_progress(), suite.Sizes.quick(), {"overhead": {}, "load": []})


def test_an_http_server_that_does_not_answer_is_an_error(monkeypatch):
    import infra.composition

    @contextmanager
    def nothing_listening():
        yield "http://127.0.0.1:9"  # the discard port: connection refused

    monkeypatch.setattr(infra.composition, "serving", nothing_listening)

    with pytest.raises(suite.HttpPhaseError, match="POST /transactions"):
        suite._http(_progress(), suite.Sizes.quick(), {"overhead": {}, "load": []})


def test_a_saga_that_does_not_commit_in_the_overhead_phase_is_an_error(monkeypatch):
    monkeypatch.setattr(counts, "direct_transaction", lambda job: None)
    # The overhead phase pauses the runtime's stream consumers while it counts.
    runtime = SimpleNamespace(dynamodb_requests={}, streams=SimpleNamespace(stop=list, start=list))

    def busy(job: Job) -> Outcome:
        return Outcome(429, 0.0)

    with pytest.raises(suite.BenchError, match="saga transaction answered 429"):
        suite._overhead_phase(_progress(), "embedded", runtime, busy, suite.Sizes.quick())


def test_a_busy_lock_whose_lease_ran_out_is_an_error():
    from infra.local.runtime import LocalAws

    with LocalAws() as aws, pytest.raises(counts.BusyScenarioError, match="SUCCEEDED"):
        counts.request_counts(aws, repetitions=0, include_busy=True, lease_seconds=-60)


@pytest.mark.parametrize(
    ("error", "hint"),
    [(suite.HttpPhaseError("http: the server answered 500"), True),
     (suite.BenchError("request counts: the saga answered 429"), False)],
    ids=["http-phase", "another-phase"],
)  # fmt: skip
def test_a_failed_phase_fails_the_command(monkeypatch, capsys, error, hint):
    def fail(sizes, *, quick):
        raise error

    monkeypatch.setattr(suite, "run", fail)

    assert cli.main(["--quick"]) == 1
    assert ("--no-http" in capsys.readouterr().err) is hint


def test_compare_warns_when_the_runs_differ_in_kind(quick_result):
    full = {**quick_result, "quick": False, "git": {**quick_result["git"], "dirty": False}}
    older = {**full, "version": 1}
    dirty = {**full, "git": {**full["git"], "dirty": True}}

    assert report.compare_warnings(full, full) == []
    assert any("version" in w for w in report.compare_warnings(older, full))
    assert any("--quick" in w for w in report.compare_warnings(full, quick_result))
    assert any("uncommitted" in w for w in report.compare_warnings(full, dirty))
    assert report.compare(older, full).startswith("warning: version differs")


def test_a_condition_check_is_priced_as_a_transactional_write():
    units = cost.request_units(
        {"UpdateItem": 2, "TransactWriteItems": 1},
        [{"ConditionCheck": 1, "Put": 1}],
        item_kb=1,
    )

    assert units == {"wru": 2 * 1 + 2 * 2, "rru": 0}
    assert cost.request_units({"GetItem": 1}, [], item_kb=1) == {"wru": 0, "rru": 1}


SAGA_FLOOR_WRITES = ("acquireLockWrite", "putTransactionWrite", "commitWrite", "releaseLockWrite")


def test_the_floor_costs_no_more_than_a_committed_transaction_on_the_same_basis():
    derived = suite.derive(DOC_RESULT)["cost"]
    floor = {row["line"]: row for row in derived["floor"]["lines"]}
    measured = derived["perMillion"]["ERROR"]["committed"]
    committed = DOC_RESULT["requestCounts"]["committed"]

    for line in (
        "apiGateway",
        "stepFunctionsRequests",
        "lambdaRequests",
        "eventBridgeEvents",
        "streamConsumerRequests",
        "apiAccessLogs",
    ):
        assert floor[line]["usd"] <= measured[line] + 1e-3, line
    assert sum(floor[line]["quantity"] for line in SAGA_FLOOR_WRITES) <= committed["wru"]
    assert floor["projectionWrite"]["usd"] <= measured["summariesProjectionWrites"]
    assert floor["lambdaPlatformLogs"]["usd"] <= (
        measured["lambdaPlatformLogs"] + measured["streamConsumerPlatformLogs"]
    )
    assert floor["xray"]["usd"] <= measured["xray"] + measured["xrayStreamConsumers"] + 1e-3
    assert derived["floor"]["total"] <= measured["total"]


def test_the_floor_is_priced_from_the_price_table(monkeypatch):
    before = cost.floor_per_million()
    monkeypatch.setitem(cost.PRICES, "apiGatewayRestPerMillion", {"usd": 1.00})
    monkeypatch.setitem(cost.PRICES, "dynamodbWruPerMillion", {"usd": 0.25})
    after = cost.floor_per_million()

    # The API's 2.50, and 0.375 less on each of the floor's 16 write units (1 + 4 + 6 + 1 + 4).
    assert before["total"] - after["total"] == pytest.approx(2.50 + 16 * 0.375, abs=0.01)
    assert before["totalWithoutObservability"] - after[
        "totalWithoutObservability"
    ] == pytest.approx(2.50 + 16 * 0.375, abs=0.01)


@pytest.mark.parametrize(
    ("target", "ratio", "said"),
    [(1000.0, 1.15, "under the target of $1,000.00"),
     (1.0, 100.0, "but"),
     (1.0, 1.0, "(over 1.00x)")],
    ids=["under-the-target", "within-the-ratio", "over-both"],
)  # fmt: skip
def test_the_summary_says_where_the_measured_cost_stands(monkeypatch, target, ratio, said):
    monkeypatch.setattr(cost, "TARGET_COMMITTED_AT_ERROR", target)
    monkeypatch.setattr(cost, "FLOOR_TARGET_RATIO", ratio)
    result = {**DOC_RESULT, **json.loads(json.dumps(suite.derive(DOC_RESULT)))}

    assert any(said in line for line in report.summary(result))
    assert any("Without the log lines and traces" in line for line in report.summary(result))


def test_a_longer_lease_blocks_a_crashed_holders_user_longer():
    rows = cost.lease_scenarios(configured=25, timeout_seconds=20, cost_per_million_429=30.0)
    by_lease = {row["leaseSeconds"]: row for row in rows}

    assert sorted(by_lease) == [10, 25, 60]
    assert by_lease[25]["configured"] and not by_lease[60]["configured"]
    assert by_lease[60]["rejectedPerCrash"] == {"1": 60, "10": 600}
    assert by_lease[60]["usdPerThousandCrashes"]["10"] == pytest.approx(600 * 30.0 / 1000)
    assert not by_lease[10]["longerThanTimeout"] and by_lease[25]["longerThanTimeout"]


def test_each_handlers_cold_start_is_measured_beside_the_baseline(quick_result):
    cold = quick_result["coldStarts"]

    assert cold["baseline"]["clients"] == ["dynamodb"]
    for module, measured in cold["handlers"].items():
        for variant in coldstart.VARIANTS:
            figures = measured[variant]
            assert figures["import"]["medianMs"] <= figures["importAndClients"]["medianMs"]
            # Each run beside a baseline run of the same clients; the figure, the pairs' median.
            for pairs, ratio in (("pairRatios", "ratioToBaseline"),
                                 ("cpuPairRatios", "cpuRatioToBaseline")):  # fmt: skip
                assert len(figures[pairs]) == cold["repetitions"]
                assert figures[ratio] == round(statistics.median(figures[pairs]), 2)
            # No handler imports the X-Ray SDK: Lambda traces by itself (docs/tracing.md).
            assert figures["xrayContext"] is None, module
    assert "dynamodb" in cold["handlers"]["functions.handlers.acquire_lock"]["clients"]
    assert "Cold-start work per handler" in report.markdown(quick_result)
    said = report.summary(quick_result)
    assert any(line.startswith("Cold-start work") for line in said)
    # The quick run counts no instructions (valgrind takes about 10 s a handler): no line says so.
    assert "instructions" not in cold
    assert not any("instructions executed" in line for line in said)
    assert "instructions executed" not in report.markdown(quick_result)


DOC_RESULT = json.loads(cli.DOC_RESULT.read_text())
COUNTED = ("status", "error", "dynamodb", "transactItems", "lambda", "wru", "rru")
# docs/performance.json from before the current schema: its block and derived figures follow the
# code again once `make bench` regenerates it; until then these tests must fail (strict), and a
# pass means the marker can go.
DOC_PREDATES_SCHEMA = pytest.mark.xfail(
    DOC_RESULT["version"] < suite.SCHEMA_VERSION,
    reason="docs/performance.json predates the bench's schema: regenerate it with make bench",
    strict=True,
)


@DOC_PREDATES_SCHEMA
def test_the_doc_block_is_rendered_from_the_committed_result():
    doc = cli.DOC.read_text()
    block = doc[doc.index(report.BEGIN) + len(report.BEGIN) : doc.index(report.END)]

    assert block == "\n\n" + report.markdown(DOC_RESULT) + "\n\n"
    assert DOC_RESULT["quick"] is False
    assert {p["transport"] for p in DOC_RESULT["load"]} == {"embedded", "http"}
    assert DOC_RESULT["version"] == suite.SCHEMA_VERSION


@pytest.mark.parametrize("outcome", ["committed", "replay", "overdraft"])
def test_the_committed_result_counts_what_the_code_does_now(quick_result, outcome):
    documented = DOC_RESULT["requestCounts"][outcome]
    counted = quick_result["requestCounts"][outcome]

    assert {f: documented[f] for f in COUNTED} == {f: counted[f] for f in COUNTED}
    assert documented["consistent"] is True


@DOC_PREDATES_SCHEMA
def test_the_committed_results_derived_figures_follow_the_current_cost_model():
    derived = suite.derive(DOC_RESULT)

    assert {name: DOC_RESULT[name] for name in suite.DERIVED} == json.loads(json.dumps(derived))


def test_update_doc_writes_the_result_and_the_block(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(
        f"intro\n{report.BEGIN}\nold\n{report.END}\nafter\n"
        f"{report.TRANSFERS_BEGIN}\nold\n{report.TRANSFERS_END}\n"
    )
    source = tmp_path / "run.json"
    source.write_text(suite.dumps(DOC_RESULT))

    cli.update_doc(source, doc, tmp_path / "committed.json")

    assert json.loads((tmp_path / "committed.json").read_text()) == DOC_RESULT
    assert doc.read_text() == (
        f"intro\n{report.BEGIN}\n\n{report.markdown(DOC_RESULT)}\n\n{report.END}\nafter\n"
        f"{report.TRANSFERS_BEGIN}\n\n{report.transfer_markdown(DOC_RESULT['transfers'])}\n\n"
        f"{report.TRANSFERS_END}\n"
    )


def test_update_doc_refuses_a_quick_run_and_writes_nothing(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text(f"intro\n{report.BEGIN}\nold\n{report.END}\nafter\n")
    before = doc.read_text()
    source = tmp_path / "run.json"
    source.write_text(suite.dumps({**DOC_RESULT, "quick": True}))

    with pytest.raises(ValueError, match="--quick"):
        cli.update_doc(source, doc, tmp_path / "committed.json")

    assert not (tmp_path / "committed.json").exists()
    assert doc.read_text() == before


def test_the_growth_phase_reports_every_window_of_one_make_run_process(quick_result):
    grown = quick_result["growth"]
    sizes = suite.Sizes.quick()

    assert grown["transactions"] == sizes.growth
    assert grown["statuses"] == {"201": sizes.growth}
    assert [w["after"] for w in grown["windows"]] == list(
        range(sizes.growth_window, sizes.growth + 1, sizes.growth_window)
    )
    assert all(w["latencyMs"]["count"] == sizes.growth_window for w in grown["windows"])
    assert all(w["residentMb"] > 0 for w in grown["windows"])
    first, last = grown["windows"][0], grown["windows"][-1]
    assert grown["lastToFirstP50"] == round(last["latencyMs"]["p50"] / first["latencyMs"]["p50"], 3)
    assert grown["residentMbAfter"] == last["residentMb"]
    assert grown["projectionBehind"] == {}
    assert "Growth: 30 sequential transactions" in report.markdown(quick_result)


def test_growth_refuses_windows_it_cannot_fill():
    with pytest.raises(ValueError, match="cannot fill"):
        growth.run_growth(5, 10)


def test_a_server_that_does_not_start_is_a_growth_error():
    exits = (sys.executable, "-c", "import sys; print('no port', flush=True); sys.exit(3)")
    with pytest.raises(growth.GrowthError, match="did not start"):
        growth.run_growth(2, 1, command=exits)


def test_a_server_that_stops_answering_is_a_growth_error():
    announces_and_exits = (sys.executable, "-c", "print('API on http://127.0.0.1:9', flush=True)")
    with pytest.raises(growth.GrowthError, match="request 1"):
        growth.run_growth(2, 1, command=announces_and_exits)


# A fake `make run` for the growth phase: a Handler class, then this (quiet, and announced as the
# real server announces itself).
SERVES = """
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"API on http://127.0.0.1:{server.server_port}", flush=True)
server.serve_forever()
"""

FAILS_SECOND = (
    """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    count = 0
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        Handler.count += 1
        status = 500 if Handler.count == 2 else 201
        request_id = f"r-{Handler.count}"
        print(f"POST /transactions -> {status} {request_id}", file=sys.stderr, flush=True)
        self.send_response(status)
        self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(b'{"error": {"code": "INTERNAL_ERROR"}}' if status == 500 else b"{}")
"""
    + SERVES
)


def test_an_answer_other_than_201_is_recorded_with_what_finds_its_execution(quick_result):
    grown = growth.run_growth(3, 1, command=(sys.executable, "-c", FAILS_SECOND))

    assert grown["statuses"] == {"201": 2, "500": 1}
    assert grown["unexpected"] == [
        {
            "after": 2,
            "status": 500,
            "requestId": "r-2",
            "body": '{"error": {"code": "INTERNAL_ERROR"}}',
            "serverLog": ["POST /transactions -> 500 r-2"],
            "execution": "not read: 501",  # the fake server has no execution view
        }
    ]
    summary = "\n".join(report.summary({**quick_result, "growth": grown}))
    assert "Growth answer 2 was 500 (request id r-2)" in summary
    # The fake server has no GET /summaries: its two committed users count as behind.
    assert grown["projectionBehind"] == {
        "growth-0": "GET /summaries answered 501",
        "growth-2": "GET /summaries answered 501",
    }
    assert "The summaries of 2 of 50 users did not: growth-0: GET /summaries" in summary


NEVER_PROJECTS = (
    """
import http.server, json
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.end_headers()
        self.wfile.write(b"{}")
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(json.dumps({"asOfSequence": 0, "summaries": []}).encode())
"""
    + SERVES
)


def test_summaries_that_never_reach_the_last_commit_are_reported_behind(monkeypatch):
    monkeypatch.setattr(growth, "PROJECTION_WAIT_SECONDS", 0.3)

    grown = growth.run_growth(2, 1, command=(sys.executable, "-c", NEVER_PROJECTS))

    assert grown["statuses"] == {"201": 2}
    assert grown["projectionBehind"] == {
        "growth-0": "asOfSequence 0 of 1",
        "growth-1": "asOfSequence 0 of 1",
    }


def test_a_negative_growth_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--growth", "-1"])

    assert exit_.value.code == 2
    assert "--growth must be 0 or more" in capsys.readouterr().err


def test_the_reads_make_one_query_or_two(quick_result):
    reads = quick_result["reads"]["reads"]

    history = [m for name, m in reads.items() if name.startswith("GET /transactions")]
    summaries = [m for name, m in reads.items() if name.startswith("GET /summaries")]
    assert [m["dynamodb"] for m in history] == [{"Query": 1}] * 2
    # GET /summaries: the newest days (asOfSequence), then the periods.
    assert [m["dynamodb"] for m in summaries] == [{"Query": 2}] * 2
    assert [m["entries"] for m in history] == [20, quick_result["reads"]["user entries"] - 20]
    assert set(quick_result["cost"]["readsPerMillion"]) == set(reads)


def test_the_projection_lag_is_measured_for_every_request(quick_result):
    lag = quick_result["projectionLag"]

    assert lag["timeouts"] == 0
    assert lag["lagMs"]["count"] == lag["requests"] > 0


def test_level_error_logs_only_the_failures(quick_result):
    counted = quick_result["requestCounts"]
    per_level = quick_result["cost"]["perMillion"]

    assert counted["committed"]["logBytesError"] == 0
    assert 0 < counted["overdraft"]["logBytesError"] < counted["overdraft"]["logBytes"]
    assert per_level["ERROR"]["committed"]["logs"] == 0
    assert per_level["ERROR"]["committed"]["total"] < per_level["ALL"]["committed"]["total"]


def test_a_read_first_poll_costs_less_than_a_failed_write_and_is_the_one_chosen():
    rows = cost.poll_pricing({"next in line": 0.04, "queued": 0.2})
    by_key = {(row["cadence"], row["chosen"]): row for row in rows}

    for cadence in ("next in line", "queued"):
        chosen, other = by_key[(cadence, True)], by_key[(cadence, False)]
        assert chosen["poll"].startswith("read-first")
        total = "usdPerMillionSeconds"
        assert chosen[total]["total"] < other[total]["total"]
        assert chosen[total]["lambdaDuration"] == other[total]["lambdaDuration"]
    assert by_key[("queued", True)]["pollsPerSecond"] == pytest.approx(1 / 0.15, abs=0.01)


def test_the_plain_polling_variant_switches_the_line_off_and_back_on():
    from functions.handlers import acquire_lock

    with suite.plain_polling():
        assert acquire_lock.WaitPolicy(budget_seconds=1).keeps_line is False
    assert acquire_lock.WaitPolicy(budget_seconds=1).keeps_line is True


def test_the_execution_page_of_an_answer_names_what_went_wrong():
    import requests

    from infra.composition import serving

    with serving() as url:
        answer = requests.post(
            f"{url}/transactions",
            headers={"Idempotent-Key": "k1", "Content-Type": "application/json"},
            data='{"userId": "growth-page", "ammount": "500", "type": "debit"}',
            timeout=30,
        )
        page = growth.execution_page(url, answer.headers["x-amzn-RequestId"])
        missing = growth.execution_page(url, "no-such-request")

    assert answer.status_code == 422
    assert "InsufficientFundsError" in page and "<" not in page[:200]
    assert missing.startswith("not read: ")


def test_a_floor_from_before_the_same_basis_is_reported_as_that_run_priced_it():
    result = {**DOC_RESULT, **json.loads(json.dumps(suite.derive(DOC_RESULT)))}
    older_floor = {k: v for k, v in result["cost"]["floor"].items()
                   if k != "totalWithoutObservability"}  # fmt: skip
    older = {**result, "cost": {**result["cost"], "floor": older_floor}}

    said = report.summary(older)

    assert any("The floor as that run priced it" in line for line in said)
    assert not any("Without the log lines and traces" in line for line in said)


# POST /transfers: counted and priced as a transaction is; the hot pair -------------------------


def test_a_committed_transfer_is_counted_and_priced_like_a_transaction(quick_result):
    section = quick_result["transfers"]
    counts_ = section["requestCounts"]
    committed = counts_["committed"]

    assert committed["status"] == "SUCCEEDED"
    assert committed["lambda"] == {
        "AcquireLocksFunction": 1, "PutTransferFunction": 1, "CommitTransferFunction": 1,
    }  # fmt: skip
    assert committed["events"] == 2  # the source's debit and the destination's credit
    assert committed["rru"] == 0
    assert counts_["replay"]["status"] == "SUCCEEDED"
    assert "CommitTransferFunction" not in counts_["replay"]["lambda"]
    assert counts_["overdraft"]["error"] == "InsufficientFundsError"
    assert counts_["overdraft"]["lambda"]["DeleteTransferFunction"] == 1
    inputs = cost.Inputs.from_template(init_ms=suite.init_ms(quick_result))
    for outcome in ("committed", "replay", "overdraft"):
        counted = counts_[outcome]
        units = cost.request_units(counted["dynamodb"], counted["transactItems"], counts_["itemKb"])
        assert counted["wru"] == units["wru"]
        for level in cost.LOG_LEVELS:
            priced = cost.per_million(counted, level, inputs)
            assert section["cost"]["perMillion"][level][outcome] == priced
    transaction = section["cost"]["transactionCommitted"]
    assert transaction["requestCounts"]["lambdaTotal"] == 3
    assert transaction["perMillion"]["ERROR"] == cost.per_million(
        quick_result["requestCounts"]["committed"], "ERROR", inputs
    )


def test_the_hot_pair_is_held_against_the_sequential_transfer_client(quick_result):
    section = quick_result["transfers"]
    sequential, pair = section["load"]

    assert (sequential["scenario"], pair["scenario"]) == ("sequential transfers", "hot pair x2")
    for phase in (sequential, pair):
        assert set(phase["statuses"]) <= {"201", "429"}
        assert phase["invariantViolations"] == 0
        assert phase["lock"]["lambdaInvocationsPerRequest"] is not None
    share = pair["committedPerSecond"] / sequential["committedPerSecond"]
    assert section["hotPair"]["shareOfSequential"] == round(share, 3)
    assert section["hotPair"]["share429"] == pair["share429"]
    assert "Hot pair (hot pair x2)" in report.transfer_markdown(section)


def test_a_section_runs_alone_and_update_doc_merges_it_into_the_committed_result(tmp_path):
    partial = suite.run_sections({"transfers"}, suite.Sizes.quick(), quick=True)
    assert set(partial) == {
        "schema", "version", "sections", "quick", "transfers", "git", "createdAt", "machine",
        "lambdaRuntime", "sizes", "benchSeconds",
    }  # fmt: skip
    assert partial["transfers"]["initMsFrom"].startswith("docs/performance.json")
    source = tmp_path / "partial.json"
    source.write_text(suite.dumps({**partial, "quick": False}))
    committed = tmp_path / "committed.json"
    committed.write_text(suite.dumps({**DOC_RESULT, "transfers": {"old": True}}))
    doc = tmp_path / "performance.md"
    doc.write_text(
        f"{report.BEGIN}\nold\n{report.END}\n{report.TRANSFERS_BEGIN}\nold\n{report.TRANSFERS_END}\n"
    )

    cli.update_doc(source, doc, committed)

    merged = json.loads(committed.read_text())
    assert merged == {**DOC_RESULT, "transfers": partial["transfers"]}
    assert doc.read_text() == (
        f"{report.BEGIN}\n\n{report.markdown(merged)}\n\n{report.END}\n"
        f"{report.TRANSFERS_BEGIN}\n\n{report.transfer_markdown(partial['transfers'])}\n\n"
        f"{report.TRANSFERS_END}\n"
    )
    assert suite.write(partial, tmp_path).name.endswith("-transfers.json")
    assert not (tmp_path / "latest.json").exists()  # a partial run is never the latest full one


def test_the_doc_transfer_block_is_rendered_from_the_committed_result():
    doc = cli.DOC.read_text()
    start = doc.index(report.TRANSFERS_BEGIN) + len(report.TRANSFERS_BEGIN)
    block = doc[start : doc.index(report.TRANSFERS_END)]

    assert block == "\n\n" + report.transfer_markdown(DOC_RESULT["transfers"]) + "\n\n"
    assert DOC_RESULT["transfers"]["version"] == suite.TRANSFERS_VERSION


@pytest.mark.parametrize("outcome", ["committed", "replay", "overdraft"])
def test_the_committed_transfer_counts_are_what_the_code_does_now(quick_result, outcome):
    documented = DOC_RESULT["transfers"]["requestCounts"][outcome]
    counted = quick_result["transfers"]["requestCounts"][outcome]

    assert {f: documented[f] for f in COUNTED} == {f: counted[f] for f in COUNTED}
    assert documented["consistent"] is True


def test_an_unknown_section_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--sections", "transfers,nope"])

    assert exit_.value.code == 2
    assert "unknown sections: nope" in capsys.readouterr().err


def test_update_doc_refuses_a_section_the_documented_figures_are_derived_from(tmp_path):
    partial = tmp_path / "growth.json"
    partial.write_text(suite.dumps({"sections": ["growth"], "quick": False, "growth": {}}))

    with pytest.raises(ValueError, match="only a full run can replace them"):
        cli.update_doc(partial, tmp_path / "performance.md", tmp_path / "committed.json")
