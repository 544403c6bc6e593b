-- Every purchase order line we know of: the PO export, plus the buyer's approved suggestions
-- until the same order shows up in the export (same supplier, SKU and location, ordered on or
-- after the decision), so an approved line counts as on order exactly once.
with

exported as (
    select
        po_line_id, po_id, supplier_id, sku, location_id, quantity_ordered, quantity_received,
        ordered_date, expected_date, status, quantity_open, 'po_export' as origin
    from {{ ref('stg_files__purchase_orders') }}
),

decided as (
    select
        d.po_line_id, d.po_id, d.supplier_id, d.sku, d.location_id, d.quantity_ordered,
        d.quantity_received, d.ordered_date, d.expected_date, d.status, d.quantity_open,
        'buyer_decision' as origin
    from {{ ref('stg_files__buyer_decisions') }} as d
    where not exists (
        select 1 from exported as e
        where e.supplier_id = d.supplier_id
            and e.sku = d.sku
            and e.location_id = d.location_id
            and e.ordered_date >= d.ordered_date
    )
),

final as (
    select * from exported
    union all
    select * from decided
)

select * from final
