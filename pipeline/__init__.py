"""DVC stage scripts: parse options, load and validate inputs, call `models`, write outputs."""
