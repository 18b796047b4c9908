#!/usr/bin/env python3
"""Writes the handmade seed inputs of fuzz_state_manager to corpus/fuzz_state_manager/.

The encoder mirrors how fuzz_state_manager.cpp decodes its input with
libFuzzer's FuzzedDataProvider: integers are taken from the end of the input
(most significant byte first), strings (ConsumeRandomLengthString) from its
front, '\\' escaping and '\\' plus another byte ending them. Keep the two in
step when the harness changes:

    python3 fuzz/gen_state_manager_corpus.py
    HOTSTATE_FUZZ_TRACE=1 build/fuzz/fuzz/fuzz_state_manager fuzz/corpus/fuzz_state_manager/<file>
"""
import pathlib

# Opcodes (byte % 16 in the harness).
SAVE, SAVE_IF_RIGHT, SAVE_IF_WRONG, SAVE_MANY, INVALID, LOAD, LATEST, ROLLBACK = 0, 2, 3, 4, 5, 6, 7, 8
CLEAR, CLEAR_ALL, HISTORY, REOPEN, OTHER_SAVE, OTHER_ROLLBACK_OR_CLEAR, CHECK_ALL = 9, 10, 11, 12, 13, 14, 15
# Plugin ids by index: "a", "B", "été", "a\0b", "".
A, B, E, NUL, EMPTY = range(5)
# Setup byte.
FILE = 4
CACHE_SMALL, CACHE_TINY, CACHE_OFF = 1 << 3, 2 << 3, 3 << 3


class Input:
    def __init__(self, setup):
        self.front = bytearray()
        self.back = []  # in the order the harness consumes them
        self.u8(setup)

    def u8(self, value):
        self.back.append(value & 0xFF)

    def u64(self, value):
        for shift in range(56, -8, -8):
            self.back.append((value >> shift) & 0xFF)

    def boolean(self, value):
        self.u8(1 if value else 0)

    def string(self, text):
        raw = text.encode() if isinstance(text, str) else text
        assert len(raw) < 48
        for byte in raw:
            self.front += b"\\\\" if byte == 0x5C else bytes([byte])
        self.front += b"\\x"  # ends the string

    def text(self, pieces):
        """pick_text: indexes into the harness's text_pieces (0 "a" ... 8 emoji ...)."""
        assert len(pieces) <= 6
        self.u8(len(pieces))
        for piece in pieces:
            self.u8(piece)

    def snapshot(self, timestamp=1_700_000_000, s=None, json=None, meta=None, meta_kv=None, null_key=None,
                 version=None):
        self.u64(timestamp)
        self.u8(0x55)  # seq, ignored
        flags = ((s is not None) | (json is not None) << 1 | (meta is not None) << 2 | (meta_kv is not None) << 3
                 | (null_key is not None) << 4 | (version is not None) << 5)
        self.u8(flags)
        if s is not None:
            self.text(s)
        if json is not None:
            self.string(json)
        if meta is not None:
            self.text(meta)
        if meta_kv is not None:
            self.text(meta_kv[1])  # the value is consumed first
            self.text(meta_kv[0])
        if null_key is not None:
            self.text(null_key)
        if version is not None:
            self.text(version)

    def op(self, code, plugin):
        self.u8(code)
        self.u8(plugin)

    def save(self, plugin, **snapshot):
        self.op(SAVE, plugin)
        self.snapshot(**snapshot)

    def save_if(self, plugin, right=True, wrong_choice=0, **snapshot):
        self.op(SAVE_IF_RIGHT if right else SAVE_IF_WRONG, plugin)
        self.snapshot(**snapshot)
        if not right:
            self.u8(wrong_choice)

    def save_many(self, plugins):
        self.op(SAVE_MANY, plugins[0])
        self.u8(len(plugins) - 1)  # ConsumeIntegralInRange(1, 3)
        self.snapshot(s=[0, 1])
        for plugin in plugins[1:]:
            self.u8(plugin)
            self.snapshot(json='{"k":[1,2.5,"x"]}')

    def invalid(self, plugin, kind, mode, swap=False):
        self.op(INVALID, plugin)
        self.u8(plugin)  # make_invalid_snapshot picks its own id
        self.snapshot()
        self.u8(kind)
        if kind == 4:
            self.u8(7)
        self.u8(mode)
        if mode == 2:
            self.snapshot()
            self.boolean(swap)

    def simple(self, code, plugin, *operands):
        self.op(code, plugin)
        for operand in operands:
            self.u8(operand)

    def reopen(self, plugin, max_history, set_it=True):
        """Reopens with Options naming max_history (which must not apply), then sets it on purpose if set_it."""
        self.op(REOPEN, plugin)
        self.u8(max_history)
        self.boolean(set_it)

    def other_rollback(self, plugin):
        self.op(OTHER_ROLLBACK_OR_CLEAR, plugin)
        self.boolean(True)

    def other_clear(self, plugin):
        self.op(OTHER_ROLLBACK_OR_CLEAR, plugin)
        self.boolean(False)

    def other_save(self, plugin, **snapshot):
        self.op(OTHER_SAVE, plugin)
        self.snapshot(**snapshot)

    def bytes(self):
        return bytes(self.front) + bytes(reversed(self.back))


def seed_history_and_rollback():
    """:memory:, max_history 2: saves beyond the bound, rollbacks down to none left."""
    i = Input(2)
    for n in range(4):
        i.save(A, s=[n % 12, 7, 8])
    i.simple(HISTORY, A)
    for _ in range(3):
        i.simple(ROLLBACK, A)
    i.simple(LOAD, A)
    i.save_if(B)
    i.save_if(B, right=False, wrong_choice=1)
    i.save_if(B, right=False, wrong_choice=0)
    i.save_many([A, B, E])
    i.simple(CLEAR, A)
    i.simple(HISTORY, B)
    i.simple(CLEAR_ALL, B, 0)
    i.simple(CHECK_ALL, A)
    return i


def seed_file_other_writer_reopen():
    """A file, max_history 3, a cache of 2: a second writer, reopening with a lower bound."""
    i = Input(3 | FILE | CACHE_SMALL)
    for plugin in (A, B, E, NUL, EMPTY, A, A, B):
        i.save(plugin, json='{"x":[true,null,{"y":-0.0}]}')
    i.simple(LOAD, A)
    i.simple(LOAD, B)
    i.other_save(A, meta=[8, 7])
    i.simple(LOAD, A)
    i.other_rollback(A)
    i.simple(LATEST, A)
    i.save_if(A, right=False, wrong_choice=2)
    i.reopen(A, 1)
    i.simple(HISTORY, A)
    i.other_clear(B)
    i.simple(LOAD, B)
    i.reopen(A, 3)
    i.save(B)
    i.simple(ROLLBACK, B)
    return i


def seed_invalid_saves():
    """max_history 0: every refusal, alone, conditional and in a batch."""
    i = Input(0)
    i.save(A)
    i.simple(ROLLBACK, A)
    for kind in range(8):
        i.invalid(B, kind, kind % 3, swap=bool(kind & 1))
    i.save(E, version=[8, 9, 11])
    i.simple(CHECK_ALL, A)
    return i


def seed_file_batches():
    """A file without cache, max_history 1: batches that save one plugin twice."""
    i = Input(1 | FILE | CACHE_OFF)
    i.save_many([NUL, NUL, EMPTY])
    i.save_many([EMPTY])
    i.save_if(NUL)
    i.save_if(EMPTY, right=False, wrong_choice=3)
    i.reopen(A, 3)
    i.save_many([A, B, A])
    i.simple(HISTORY, A)
    i.other_save(B, s=[6, 6])
    i.simple(LOAD, B)
    i.simple(CLEAR_ALL, A, 4)
    i.simple(CHECK_ALL, A)
    return i


def seed_tiny_cache():
    """:memory:, 2 cache entries of 600 bytes in all: evictions."""
    i = Input(3 | CACHE_TINY)
    for n in range(10):
        i.save(n % 5, s=[8, 8, 8, 8, 8, 8], meta_kv=([n % 12], [1, 2]), null_key=[5, 4],
               json='"' + "x" * (n * 4) + '"')
        i.simple(LOAD, (n + 3) % 5)
    i.simple(CHECK_ALL, A)
    return i


def main():
    out = pathlib.Path(__file__).resolve().parent / "corpus" / "fuzz_state_manager"
    out.mkdir(parents=True, exist_ok=True)
    for make in (seed_history_and_rollback, seed_file_other_writer_reopen, seed_invalid_saves, seed_file_batches,
                 seed_tiny_cache):
        name = make.__name__.removeprefix("seed_")
        (out / name).write_bytes(make().bytes())
        print(out / name)


if __name__ == "__main__":
    main()
