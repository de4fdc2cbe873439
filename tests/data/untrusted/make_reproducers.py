#!/usr/bin/env python3
"""Writes the reproducers of issue 17's findings as binary files, encoded
by hand (independently of protobuf-c) so the C tests read exactly these
bytes. Run it again only to add a reproducer; the .bin files are committed.

  directory_without_digest.bin  a Directory whose DirectoryNode has no digest
                                (listing it crashed the view)
  tree_dotdot.bin               a Tree whose root has a child directory named
                                ".." (its files escaped the output directory)
  tree_empty_name.bin           the same with an empty name ("out//f")
  tree_dag12.bin, tree_dag40.bin
                                Trees of 12 (40) levels, each Directory naming
                                the next twice: 2^12 (2^40) paths, 13 (41)
                                distinct Directories (walked as a tree, 12
                                levels took seconds and 16 did not finish)
  two_failed_operations.bin     two finished Operations carrying an error,
                                each length-prefixed by 4 bytes (big-endian)
                                (the first error leaked)
"""
import hashlib
import os
import struct


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field_bytes(number, value):
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def digest(blob):
    return field_bytes(1, hashlib.sha256(blob).hexdigest().encode()) + field_varint(2, len(blob))


def file_node(name, blob):
    return field_bytes(1, name.encode()) + field_bytes(2, digest(blob))


def dir_node(name, child):
    return field_bytes(1, name.encode()) + field_bytes(2, digest(child))


def directory(files=(), dirs=()):
    return b"".join(field_bytes(1, f) for f in files) + b"".join(field_bytes(2, d) for d in dirs)


def tree(root, children):
    return field_bytes(1, root) + b"".join(field_bytes(2, c) for c in children)


def dag(levels):
    chain = [directory(files=[file_node("f", b"leaf\n")])]
    for _ in range(levels):
        nxt = chain[0]
        chain.insert(0, directory(dirs=[dir_node("a", nxt), dir_node("b", nxt)]))
    return tree(chain[0], chain[1:])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    inner = directory(files=[file_node("f", b"escaped\n")])
    operation_error = (field_bytes(1, b"operations/x") + field_varint(3, 1) +
                       field_bytes(4, field_varint(1, 9) + field_bytes(2, b"failed precondition")))
    files = {
        "directory_without_digest.bin": bytes([0x12, 0x00]),
        "tree_dotdot.bin": tree(directory(dirs=[dir_node("..", inner)]), [inner]),
        "tree_empty_name.bin": tree(directory(dirs=[dir_node("", inner)]), [inner]),
        "tree_dag12.bin": dag(12),
        "tree_dag40.bin": dag(40),
        "two_failed_operations.bin": b"".join(struct.pack(">I", len(operation_error)) + operation_error
                                              for _ in range(2)),
    }
    for name, data in files.items():
        with open(os.path.join(here, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
