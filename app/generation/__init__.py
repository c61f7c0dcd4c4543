"""Generation: jobs that render takes of a shot on the workers, and the takes they make."""
