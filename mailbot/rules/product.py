"""product: which of a desk's products a request concerns, as an annotation (GRSoft, seed 002).

How a product is recognised (a customer's project, a labelled project line, a project code,
a word in the subject or the text) is `_products`, shared with `missing_fields` so that both
rules always agree. The desk file lists its products (`[rule.product.products.<code>]`); there
is no built-in list: a desk without one stops start-up, and `products = {}` leaves only the
customers' own projects (`Customer.projects`) to tell the product.
"""

from __future__ import annotations

from mailbot.config import DeskSettings
from mailbot.parse import Mail
from mailbot.rules import Action, Context, Verdict
from mailbot.rules._products import ProductSettings, ProductTable, own_text


class Product:
    name = "product"
    description = "which product the request concerns (project name, project code, subject)"

    Settings = ProductSettings

    def __init__(self, table: ProductTable) -> None:
        self.table = table
        listed = [spec.code for spec in table.products]
        owned = [p for projects in table.projects.values() for p, _ in projects]
        self.codes = tuple(dict.fromkeys([*listed, *owned]))

    @classmethod
    def for_desk(cls, desk: DeskSettings, settings: ProductSettings) -> Product:
        return cls(ProductTable(settings.products, desk.customers))

    def detect(self, mail: Mail, context: Context) -> frozenset[str]:
        """The product the request concerns; none when nothing says."""
        match = self.table.detect(mail.subject, own_text(mail.text), context.customer)
        return frozenset() if match is None else frozenset({match.product})

    def check(self, mail: Mail, context: Context) -> Verdict | None:
        match = self.table.detect(mail.subject, own_text(mail.text), context.customer)
        if match is None:
            return None
        return Verdict(
            self.name,
            Action.annotate,
            detail=f"product {match.product}: {match.evidence}",
            annotations={"product": match.product},
        )


RULE = Product
