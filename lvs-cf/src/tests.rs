//! Unit tests of the parser, the validator and the writer.
