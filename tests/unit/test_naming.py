from core.chat.naming import fit, fit_middle


def test_an_echoed_value_keeps_its_start_and_its_end() -> None:
    path = "/home/someone/" + "deep/" * 30 + "cat.png"
    shown = fit_middle(path, 40)
    assert len(shown) == 40
    assert shown.startswith("/home/someone/") and shown.endswith("/cat.png")
    assert "…" in shown
    assert fit_middle("short  one", 40) == "short one"


def test_a_description_is_cut_at_its_end() -> None:
    assert fit("a long description of a workflow", 10) == "a long de…"
