"""Pure data, maths and stable text forms: no I/O, standard library and `dockerlab.errors` only."""
