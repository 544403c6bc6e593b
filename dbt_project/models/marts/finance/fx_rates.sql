-- Daily FX rates per currency (value of one unit in the base currency), carried forward over gaps.
with

fx as (
    select * from {{ ref('int_fx_rates_daily') }}
),

final as (
    select
        rate_date,
        currency,
        rate_to_base,
        source_rate_date,
        is_carried_forward
    from fx
)

select * from final
