"""The report's document model renders to Markdown and self-contained HTML."""

import base64

import pandas as pd

from pipeline.common.document import Bullets, Figure, Heading, Paragraph, Table, to_html, to_markdown

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_markdown_and_html_hold_the_same_content(tmp_path):
    (tmp_path / "fig.png").write_bytes(PNG)
    doc = [
        Heading(2, "Q3 <results>"),
        Paragraph("GRU scored `0.95`."),
        Bullets(("a", "b")),
        Table(pd.DataFrame({"model": ["gru", "lstm"], "accuracy": [0.951234, 0.9]})),
        Figure(tmp_path.joinpath("fig.png").relative_to(tmp_path), "a figure"),
    ]
    md = to_markdown(doc)
    assert "## Q3 <results>" in md and "| gru | 0.9512 |" in md and "![a figure](fig.png)" in md
    page = to_html(doc, "t", root=tmp_path)
    assert "<h2>Q3 &lt;results&gt;</h2>" in page and "<code>0.95</code>" in page
    assert "<td>0.9512</td>" in page and base64.b64encode(PNG).decode() in page
    assert "http" not in page  # nothing to fetch: viewable offline
