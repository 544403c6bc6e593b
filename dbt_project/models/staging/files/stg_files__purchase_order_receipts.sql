-- Receipts against purchase order lines: one row per delivery, several per line when a line
-- arrives in parts. The landing gate holds a receipt whose time is unreadable or in the future,
-- whose quantity is not a whole number of at least 1, or whose location is not configured
-- (connectors/reference/checks.py). A receipt with the same line and time as another is the
-- same receipt (a later version of it).
with

source as (
    {{ latest_version(source('raw', 'files__purchase_order_receipts')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        _source_id as receipt_id,
        trim(_payload ->> 'po_id') as po_id,
        trim(_payload ->> 'sku') as sku,
        trim(_payload ->> 'location_id') as location_id,
        trim(_payload ->> 'po_id') || ':' || trim(_payload ->> 'sku') || ':'
            || trim(_payload ->> 'location_id') as po_line_id,
        _source_updated_at as received_at,
        -- the day as the file writes it, like the POs' ordered_at and expected_at
        cast(left(trim(_payload ->> 'received_at'), 10) as date) as received_date,
        cast(cast(trim(_payload ->> 'quantity_received') as decimal(18, 4)) as integer)
            as quantity_received,
        _loaded_at as loaded_at
    from source
)

select * from final
