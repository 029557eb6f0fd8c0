//! Caucus rounds on the record (`spec/caucus.md` §9).
