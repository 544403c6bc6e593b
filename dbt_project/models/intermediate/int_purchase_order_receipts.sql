-- Every receipt with the PO line it was booked against (PO export or approved buyer decision):
-- its supplier, order date and expected date, the receipt's lead time in days (order date to
-- receipt date) and whether it arrived by the expected date, and how much of the line had
-- arrived with it (cumulative, receipts in time order). A receipt of a line we do not know, or
-- of a line without an order date, has no lead time (lead_time_days null).
with

receipts as (
    select receipt_id, po_line_id, po_id, sku, location_id, received_at, received_date,
        quantity_received
    from {{ ref('stg_files__purchase_order_receipts') }}
),

lines as (
    select po_line_id, supplier_id, quantity_ordered, ordered_date, expected_date, status
    from {{ ref('int_open_purchase_orders') }}
),

joined as (
    select
        r.*,
        l.supplier_id,
        l.quantity_ordered,
        l.ordered_date,
        l.expected_date,
        l.status,
        l.po_line_id is not null as has_po_line,
        r.received_date - l.ordered_date as lead_time_days,
        r.received_date <= l.expected_date as is_on_time
    from receipts as r
    left join lines as l using (po_line_id)
),

final as (
    select
        *,
        sum(quantity_received) over (
            partition by po_line_id
            order by received_at, receipt_id
            rows between unbounded preceding and current row
        ) as line_received_to_date
    from joined
)

select * from final
