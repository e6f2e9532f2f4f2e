"""``matchtag review``: the review app's domain code (labels store, transcoding cache, HTTP
app), Beam-free like the rest of ``tagging``; ``pipeline/commands/review.py`` starts it."""
