-- Purchase orders a buyer approved in a returned reorder file (approved_qty), as PO lines.
{{ purchase_order_lines(source('raw', 'files__buyer_decisions')) }}
