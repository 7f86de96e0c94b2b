"""Polls, photos and files, the data lifecycle, one-tap answers."""
