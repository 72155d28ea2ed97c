"""UBL 2.1 Order XML for an order document: the fields an ERP needs to book it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

NS = {
    "": "urn:oasis:names:specification:ubl:schema:xsd:Order-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
for prefix, uri in NS.items():
    ET.register_namespace(prefix, uri)


def _q(tag: str) -> str:
    prefix, _, name = tag.rpartition(":")
    return f"{{{NS[prefix]}}}{name}"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, _q(tag), attrs)
    if text is not None:
        element.text = text
    return element


def order_xml(order: dict[str, Any], issue_date: str, seller: str) -> str:
    root = ET.Element(_q(":Order"))
    _add(root, "cbc:UBLVersionID", "2.1")
    _add(root, "cbc:ID", order["id"])
    _add(root, "cbc:IssueDate", issue_date)
    _add(root, "cbc:DocumentCurrencyCode", order["currency"])
    period = _add(root, "cac:ValidityPeriod")
    _add(period, "cbc:StartDate", order["start_date"])
    _add(_add(root, "cac:QuotationDocumentReference"), "cbc:ID", order["quote_id"])
    buyer = _add(_add(root, "cac:BuyerCustomerParty"), "cac:Party")
    _add(_add(buyer, "cac:PartyIdentification"), "cbc:ID", order["account"]["id"])
    _add(_add(buyer, "cac:PartyName"), "cbc:Name", order["account"].get("name", order["account"]["id"]))
    seller_party = _add(_add(root, "cac:SellerSupplierParty"), "cac:Party")
    _add(_add(seller_party, "cac:PartyName"), "cbc:Name", seller)
    _add(_add(root, "cac:PaymentTerms"), "cbc:Note", order["payment_terms"])
    total = _add(root, "cac:AnticipatedMonetaryTotal")
    _add(total, "cbc:PayableAmount", order["total"], currencyID=order["currency"])
    for line in order["lines"]:
        item = _add(_add(root, "cac:OrderLine"), "cac:LineItem")
        _add(item, "cbc:ID", line["id"])
        _add(item, "cbc:Quantity", line["quantity"], unitCode="EA")
        _add(item, "cbc:LineExtensionAmount", line["amount"], currencyID=order["currency"])
        delivery = _add(_add(item, "cac:Delivery"), "cac:RequestedDeliveryPeriod")
        _add(delivery, "cbc:StartDate", line["start_date"])
        if line.get("end_date"):
            _add(delivery, "cbc:EndDate", line["end_date"])
        _add(_add(item, "cac:Price"), "cbc:PriceAmount", line["unit_price"], currencyID=order["currency"])
        product = _add(item, "cac:Item")
        _add(product, "cbc:Name", line.get("name") or line["product"])
        _add(_add(product, "cac:SellersItemIdentification"), "cbc:ID", line["product"])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
