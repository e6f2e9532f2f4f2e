"""Scoring each stage against ground truth, apart from the stages it scores.

``pose`` (OKS AP with pycocotools, PCKh), ``tracking`` (MOT ground truth: HOTA, IDF1,
MOTA, under a seeded detection-noise protocol) and ``events`` (labels CSVs and
DFL-style average precision).  Import the module you need; each pulls in its own
metric libraries.
"""
