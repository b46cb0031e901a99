"""scripts/compare_teachers.py on the tiny data: members alone and averaged, on validation and test."""

import pytest

from scripts.compare_teachers import main


def test_members_and_their_average_are_scored_on_both_splits(tiny_imdb, tiny_run, capsys):
    report = main(["--dataset", str(tiny_imdb), "--member", "ngram", "--member", f"net={tiny_run / 'export'}",
                   "--average", "ngram+net"])
    assert set(report) == {"ngram", "net", "ngram+net"}
    assert all(set(scores) == {"val", "test"} for scores in report.values())
    assert report["ngram"]["val"] >= 0.9 and report["net"]["test"] >= 0.8  # cue words: both learn them
    assert '"ngram+net"' in capsys.readouterr().out


def test_an_average_of_unknown_members_is_refused(tiny_imdb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", str(tiny_imdb), "--member", "ngram", "--average", "ngram+other"])
    assert exit_info.value.code == 2
    assert "other" in capsys.readouterr().err


def test_no_validation_split_is_refused(tiny_imdb, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", str(tiny_imdb), "--member", "ngram", "--val-fraction", "0"])
    assert exit_info.value.code == 2
    assert "--val-fraction must be in (0, 1)" in capsys.readouterr().err


def test_a_docvec_member_is_scored_with_inferred_test_vectors(tiny_imdb, capsys):
    report = main(["--dataset", str(tiny_imdb), "--member", "ngram", "--member", "docvec", "--average", "ngram+docvec"])
    assert set(report) == {"ngram", "docvec", "ngram+docvec"}
    assert all(0.0 <= report["docvec"][split] <= 1.0 for split in ("val", "test"))


def test_a_teach_runs_members_join_by_name_with_its_own_scores(tiny_imdb, tmp_path):
    from teach import main as teach

    metrics = teach(["--data.dataset", str(tiny_imdb), "--run_dir", str(tmp_path / "teach"), "--members", "[ngram]",
                     "--report_test", "true"])
    report = main(["--dataset", str(tiny_imdb), "--teach-run", str(tmp_path / "teach")])
    assert set(report) == {"ngram"}
    assert report["ngram"]["test"] == pytest.approx(metrics["members"]["ngram"]["test_acc"], abs=1e-5)
    assert report["ngram"]["val"] == pytest.approx(metrics["members"]["ngram"]["val_acc"], abs=1e-5)
    with pytest.raises(SystemExit) as exit_info:  # one name, two members
        main(["--dataset", str(tiny_imdb), "--teach-run", str(tmp_path / "teach"), "--member", "ngram"])
    assert exit_info.value.code == 2
