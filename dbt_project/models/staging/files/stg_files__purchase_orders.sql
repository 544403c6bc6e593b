-- Purchase order lines of the PO export. Open quantity = ordered - received for status open/partial.
{{ purchase_order_lines(source('raw', 'files__purchase_orders')) }}
