"""The MVC hello of bench/mvc/run: one leaf answering JSON (by extension)."""
from smisk.mvc import *


class root(Controller):
    def hello(self, name="World"):
        return {"message": f"Hello {name}!"}


if __name__ == "__main__":
    main()
