"""The counts of the console summary are a table: aligned names and values in columns."""

from replay.report.console import _count_table


def test_counts_are_columns_of_aligned_names_and_values():
    counts = {f"setups_TYPE_{k}_long": k * 10 for k in range(1, 5)} | {
        "bars": 20_111, "fills": 242, "trades": 121, "rejected_rows": 0}
    lines = _count_table(counts)
    assert lines[0].startswith("counts            ")
    assert all(len(line) <= 100 for line in lines)
    assert all(line.startswith(" " * 18) for line in lines[1:])
    # filled down the columns in name order
    assert [line[18:].split()[0] for line in lines] == sorted(counts)[:len(lines)]
    # the second column starts at the same place on every line, values end aligned
    assert len({line.index("setups_TYPE") for line in lines}) == 1
    assert len({line.index("setups_TYPE") - 3 for line in lines}) == 1
    assert lines[0][18:].startswith("bars          20,111")
    assert lines[1][18:].startswith("fills            242")
