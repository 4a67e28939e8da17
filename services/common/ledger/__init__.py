"""RFC 9162 Merkle log: pure tree maths, signed checkpoints, storage and the offline verifier."""
