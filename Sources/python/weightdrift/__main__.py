"""`python -m weightdrift ARGS` runs the bundled executable, as `weightdrift ARGS` does."""

from ._binary import main

if __name__ == "__main__":
    main()
