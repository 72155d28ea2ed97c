"""The command-line layer: the Typer app and one thin module per command group."""

import gc

# A command is a short process that allocates its modules and then a few values: collecting while
# they are imported walks objects that all stay alive. Set here, before anything else is imported;
# main.main then freezes what start-up made and collects every 20,000 allocations (cycles of a long
# batch).
gc.set_threshold(100_000, 20, 20)
