-- End-of-day stock per day x SKU x location, carried forward between counts.
with

stock as (
    select * from {{ ref('int_stock_daily') }}
),

final as (
    select
        stock_date,
        sku,
        location_id,
        on_hand,
        is_stockout,
        has_been_stocked,
        last_count_date,
        is_carried_forward
    from stock
)

select * from final
