"""The wordcode command: every function of the library, one subcommand each."""

import argparse

import wordcode


def main() -> None:
    parser = argparse.ArgumentParser(prog="wordcode", description="Small, stable codes for words and text files.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("score", help="score of a word").add_argument("word")
    commands.add_parser("encode", help="encode a text").add_argument("text")
    commands.add_parser("checksum", help="checksum of a text file").add_argument("file")
    commands.add_parser("best", help="highest-scoring word of a text file").add_argument("file")
    options = parser.parse_args()
    argument = {"score": "word", "encode": "text"}.get(options.command, "file")
    print(getattr(wordcode, options.command)(getattr(options, argument)))
