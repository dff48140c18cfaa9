"""evalpipe.dataset.iter_raw_lines: bytes chunks of any size -> numbered lines."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from evalpipe.dataset import RawLine, iter_raw_lines


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def test_lines_are_numbered_from_one_without_their_line_endings() -> None:
    # Given a file with LF and CRLF endings and a last line without a newline
    data = b'{"a": 1}\n{"b": 2}\r\n{"c": 3}'
    # When it is split
    lines = list(iter_raw_lines([data]))
    # Then every line comes back, numbered from 1, without \n or \r\n
    assert lines == [RawLine(1, b'{"a": 1}'), RawLine(2, b'{"b": 2}'), RawLine(3, b'{"c": 3}')]


def test_blank_lines_are_yielded_and_a_final_newline_adds_no_line() -> None:
    # Given blank lines in the middle and a trailing newline
    data = b"a\n\n  \nb\n"
    # When it is split
    lines = list(iter_raw_lines([data]))
    # Then the blank lines are yielded (the rules decide) and no empty line follows the last
    assert lines == [RawLine(1, b"a"), RawLine(2, b""), RawLine(3, b"  "), RawLine(4, b"b")]


def test_nothing_comes_from_an_empty_stream_or_empty_chunks() -> None:
    # Given no bytes at all, or only empty chunks
    # When / Then no line is yielded
    assert list(iter_raw_lines([])) == []
    assert list(iter_raw_lines([b"", b""])) == []


def test_a_crlf_split_between_chunks_is_still_one_line_ending() -> None:
    # Given \r at the end of one chunk and \n at the start of the next
    # When it is split
    lines = list(iter_raw_lines([b"first\r", b"\nsecond"]))
    # Then the \r belongs to the line ending
    assert lines == [RawLine(1, b"first"), RawLine(2, b"second")]


def test_multibyte_characters_split_across_chunks_are_reassembled() -> None:
    # Given a UTF-8 character cut in half by the chunking
    data = "é\n€".encode()
    # When it is split one byte at a time
    lines = list(iter_raw_lines(chunked(data, 1)))
    # Then the bytes of each line are whole again
    assert [line.data.decode() for line in lines] == ["é", "€"]


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=40))
def test_any_chunking_gives_the_same_lines(data: bytes, size: int) -> None:
    # Given any bytes, chunked at any size
    # When they are split
    lines = [line.data for line in iter_raw_lines(chunked(data, size))]
    # Then the lines are those of the whole file split at \n (CR of CRLF removed)
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    assert lines == [part[:-1] if part.endswith(b"\r") else part for part in expected]


def test_chunks_are_pulled_only_as_lines_are_needed() -> None:
    # Given a chunk source that records how far it has been read
    pulled: list[int] = []

    def source() -> Iterator[bytes]:
        for i in range(1000):
            pulled.append(i)
            yield b'{"n": %d}\n' % i

    # When only the first line is taken
    first = next(iter_raw_lines(source()))
    # Then only the first chunk was read: the file is never loaded as a whole
    assert first == RawLine(1, b'{"n": 0}')
    assert pulled == [0]
