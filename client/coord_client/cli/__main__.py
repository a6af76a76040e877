"""`python -m coord_client.cli`, as the `coordctl` console script."""

from coord_client.cli import main

if __name__ == "__main__":
    main()
