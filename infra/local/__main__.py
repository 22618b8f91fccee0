"""`make run`: the wallet API on http://127.0.0.1:3000 with no AWS account and no Docker.

The program starts in infra/composition.py, which wires the runtime to the execution view.
"""

from infra.composition import main

if __name__ == "__main__":
    main()
