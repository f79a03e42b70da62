"""localsora: a local server for the OpenAI Videos API contract that renders previz MP4s offline.

It is a previz renderer, not an AI model. It never imports `studio` or `streamlit`.
"""
