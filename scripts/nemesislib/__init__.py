"""The parts of scripts/nemesis: the seeded fault schedule, the client worker
process, the history it records, the checkers, and the run that ties them."""
