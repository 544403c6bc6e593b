-- The primary supplier of each SKU (lowest unit cost, then supplier id) with its terms.
with

terms as (
    select * from {{ ref('stg_files__supplier_terms') }}
    where sku is not null and unit_cost_local is not null
),

final as (
    select
        sku,
        supplier_id,
        supplier_name,
        unit_cost_local,
        currency as cost_currency,
        lead_time_days,
        lead_time_std_days,
        moq,
        case_pack
    from terms
    qualify row_number() over (partition by sku order by unit_cost_local, supplier_id) = 1
)

select * from final
