"""The report's verdicts against the targets: what a reader of docs/performance.md is told."""

from tests.bench import report


def window(after: int, p50: float, p99: float, slowest: float) -> dict:
    return {"after": after, "latencyMs": {"p50": p50, "p99": p99, "max": slowest}}


def grown(windows: list[dict], resident_mb: float = 350.0) -> dict:
    return {"windows": windows, "residentMbAfter": resident_mb}


def test_a_growth_run_within_every_bound_is_met():
    verdict = report._growth_against_targets(
        grown([window(1000, 60, 200, 500), window(2000, 70, 240, 720)])
    )

    assert "p50 1.17x, p99 1.20x, slowest 3.0x its window's p99 at worst: met." in verdict


def test_each_growth_bound_crossed_alone_is_not_met():
    first = window(1000, 60, 200, 500)
    crossings = [
        grown([first, window(2000, 73, 200, 500)]),  # p50 1.22x
        grown([first, window(2000, 60, 250, 500)]),  # p99 1.25x
        grown([first, window(2000, 60, 200, 620)]),  # one request 3.1x its window's p99
        grown([first, window(2000, 60, 200, 500)], resident_mb=400),
    ]

    for crossing in crossings:
        assert report._growth_against_targets(crossing).endswith("NOT met."), crossing


def floor(total: float, target: float = 17.00) -> dict:
    return {"total": total, "target": target, "targetRatio": 1.15}


def test_a_cost_above_an_unreachable_target_but_near_the_floor_says_so():
    verdict = report._against(18.57, floor(17.07))

    assert verdict == (
        "above the target of $17.00, which the floor itself is above, but 1.09x the floor "
        "(at most 1.15x allowed: met)"
    )


def test_a_cost_too_far_above_the_floor_is_over():
    assert report._against(19.70, floor(17.07)).endswith("1.15x the floor (over 1.15x)")
    assert report._against(16.90, floor(16.00)) == "under the target of $17.00"


def test_the_instruction_counts_are_a_table_of_their_own_when_the_run_had_them():
    cold = {
        "handlers": {"functions.handlers.get_transactions": {"clients": ["dynamodb", "secrets"]}},
        "instructions": {
            "tool": "valgrind --tool=cachegrind --cache-sim=no",
            "handlers": {
                "functions.handlers.get_transactions": {
                    "instructions": 1_267_800_000,
                    "baselineInstructions": 1_191_800_000,
                    "ratioToBaseline": 1.064,
                }
            },
        },
    }

    [(title, headers, rows)] = report._instruction_tables(cold)

    assert "instructions executed" in title
    assert headers[-1] == "/ baseline"
    assert rows == [["get_transactions", "dynamodb, secrets", "1,268", "1,192", "1.064x"]]
    assert report._instruction_tables({**cold, "instructions": None}) == []


def test_a_span_of_ratios_is_one_figure_when_they_round_alike():
    assert report._span([1.061, 1.064]) == "1.06x"
    assert report._span([1.057, 1.071]) == "1.06x-1.07x"


def _cold_start(baseline_clients: list[str]) -> dict:
    ms = {"medianMs": 200.0, "minMs": 190.0, "maxMs": 210.0}
    measured = {"importAndClients": ms, "importAndClientsCpu": ms}
    handler = {"ratioToBaseline": 1.1, "cpuRatioToBaseline": 1.05, **measured}
    target = {"ratio": 1.2, "worstRatio": 1.05, "met": True}
    return {
        "lambdaRuntime": {"runtime": "python3.12", "architecture": "arm64"},
        "coldStarts": {
            "python": "3.12",
            "repetitions": 9,
            "target": target,
            "heaviestPackages": [],
            "baseline": {"clients": baseline_clients, "withBytecode": measured,
                         "withoutBytecode": measured},
            "handlers": {"functions.handlers.get_transactions": {
                "clients": ["dynamodb", "secrets"], "withBytecode": handler,
                "withoutBytecode": handler}},
        },
    }  # fmt: skip


def test_the_baseline_row_names_the_clients_its_runs_built():
    [(_, _, rows), *_] = report.cold_start_tables(_cold_start(["dynamodb", "secrets"]))
    [(_, _, alone), *_] = report.cold_start_tables(_cold_start([]))

    assert rows[0][:2] == [
        'baseline: boto3 + boto3.client("dynamodb") + boto3.client("secretsmanager")',
        "dynamodb, secrets",
    ]
    assert rows[0][3] == "-"  # the baseline is not over itself
    assert rows[1][:4] == ["get_transactions", "dynamodb, secrets", "200.0 (190.0-210.0)", "1.05x"]
    assert alone[0][:2] == ["baseline: boto3", "none"]
